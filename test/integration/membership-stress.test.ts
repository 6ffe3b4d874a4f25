/**
 * Stress (class 8 of company-scoped-routing.test.ts, with classes 1, 2, 4, 6 and 7 in the mix): parallel connections make
 * plain-SQL single-row membership changes (removals, suspensions, reactivations with and
 * without ems.restore_listings, company moves between three companies and back, removal
 * and company change in one statement), API-domain membership changes (removeMember /
 * reactivateMember), and buyer messages (sendBuyerMessage and plain INSERT INTO messages)
 * on the same companies' listings, while a watcher checks the invariant on live snapshots.
 * The run is cut into rounds of ~2.5 s; between rounds (nothing else writing) a third of the open
 * conversations are closed, so buyers keep writing into closed conversations held by whoever held
 * them then.
 *
 * At the end: no SQLSTATE 40P01 anywhere (the services retry deadlocks, so every 40P01 they
 * see is counted too), no invariant violation (mid-run or final), and no buyer message stored
 * for a recipient who, when it committed, was not an active member of the listing's company.
 * The last is proven by the database itself: inside each message's transaction, after its
 * INSERT, the recipient's row is read FOR SHARE NOWAIT. The routing trigger already holds that
 * lock (so NOWAIT never waits, and no one can change the row before the message commits):
 * what is read is what holds at commit.
 *
 * ~10 s on each id type by default (EMS_STRESS_MS to change it); 60 s each with EMS_LONG_TESTS=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgDatabase } from '../../functions/database/pg-adapter';
import type { Database, Row } from '../../functions/database/port';
import type { IdType } from '../../functions/shared/config';
import { reactivateMember, removeMember } from '../../functions/domain/company-members';
import { DomainError } from '../../functions/domain/errors';
import { sendBuyerMessage } from '../../functions/domain/messaging';
import { createMigratedDatabase, ROUTING_ID_TYPES, type TestDatabase } from '../helpers/database';
import * as m from '../helpers/marketplace';
import { COMPANY_SCOPED_INVARIANT_SQL, observingDeadlocks, refusalCode } from '../helpers/routing-checks';

const LONG = process.env.EMS_LONG_TESTS === '1';
const DURATION_MS = Number(process.env.EMS_STRESS_MS ?? (LONG ? 60_000 : 10_000));
const WORKERS = 8;

let t: TestDatabase;
const pools = new Map<string, PgDatabase>();

/** Registers, in the enclosing describe, one database migrated with `idType` ids. */
function aMigratedDatabase(idType: IdType): void {
  beforeAll(async () => {
    t = await createMigratedDatabase(idType);
    // Deadlocks are failures here: detect them in 100 ms rather than a second, and never hang.
    await t.db.query(`ALTER DATABASE ${t.name} SET deadlock_timeout = '100ms'`).catch(() => undefined);
    await t.db.query(`ALTER DATABASE ${t.name} SET statement_timeout = '30s'`);
  });
  afterAll(async () => {
    await Promise.all([...pools.values()].map((p) => p.close()));
    pools.clear();
    await t?.drop();
  });
}

/** One pool per worker name, created once and reused across rounds. */
function pool(name: string): PgDatabase {
  let db = pools.get(name);
  if (!db) {
    db = new PgDatabase(t.url, { max: 2, applicationName: `ems-stress-${name}` });
    pools.set(name, db);
  }
  return db;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const chance = (p: number) => Math.random() < p;

interface DbError {
  code?: string;
  detail?: string;
  message?: string;
}

/** Every 40P01 a Database sees (each error once), including those the services then retry. */
const observing = (inner: Database, onDeadlock: (where: string, error: unknown) => void, where: () => string): Database =>
  observingDeadlocks(inner, (error) => onDeadlock(where(), error));

interface Proof {
  messageId: string;
  recipientId: string | null;
  listingId: string;
  path: string;
  recipientStatus: string | null;
  recipientCompany: string | null;
  listingCompany: string | null;
  listingSeller: string | null;
}

/** Inside the message's transaction, after its INSERT: the recipient as it will be at commit. */
async function proveRecipient(tx: Database, messageId: string, path: string): Promise<Proof> {
  const [stored] = await tx.query<{ recipient_id: string | null; listing_id: string; listing_company: string | null; listing_seller: string }>(
    `SELECT msg.recipient_id, l.id AS listing_id, l.company_id AS listing_company, l.seller_id AS listing_seller
       FROM messages msg JOIN conversations c ON c.id = msg.conversation_id JOIN listed_cars l ON l.id = c.listing_id
      WHERE msg.id = $1`,
    [messageId],
  );
  const recipient = stored?.recipient_id
    ? (
        await tx.query<{ member_status: string; company_id: string | null }>(
          // Already locked FOR SHARE by the routing trigger: NOWAIT never waits for it; 55P03 would mean it is not.
          'SELECT member_status, company_id FROM sellers WHERE id = $1 FOR SHARE NOWAIT',
          [stored.recipient_id],
        )
      )[0]
    : undefined;
  return {
    messageId,
    recipientId: stored?.recipient_id ?? null,
    listingId: stored?.listing_id ?? '',
    path,
    recipientStatus: recipient?.member_status ?? null,
    recipientCompany: recipient?.company_id ?? null,
    listingCompany: stored?.listing_company ?? null,
    listingSeller: stored?.listing_seller ?? null,
  };
}

const misrouted = (p: Proof) =>
  p.recipientId === null ||
  p.recipientStatus !== 'active' ||
  (p.listingCompany === null ? p.recipientId !== p.listingSeller : p.recipientCompany !== p.listingCompany);

for (const idType of ROUTING_ID_TYPES) {
  describe(`on ${idType} ids, membership stress: plain SQL and API membership changes with buyer messages on parallel connections`, () => {
    aMigratedDatabase(idType);

    it(
      `${WORKERS} workers for ${DURATION_MS / 1000} s: no deadlock anywhere, no invariant violation, no message to a recipient outside the listing's company at commit`,
      async () => {
        /* ---------------- setup: three companies, a solo-owner company, listings, buyers ---------------- */
        const companies = [await m.company(t.db, 'Alpha Cars'), await m.company(t.db, 'Bravo Motors'), await m.company(t.db, 'Charlie Autos')];
        const permanentOwners: string[] = [];
        const churned: string[] = []; // everyone the workers change: an admin, a handler and three members per company
        const listings: string[] = [];
        for (const companyId of companies) {
          const owner = await m.seller(t.db, companyId, 'owner', { createdAt: '2020-01-01' });
          permanentOwners.push(owner);
          listings.push(await m.listing(t.db, owner, companyId));
          const admin = await m.seller(t.db, companyId, 'admin', { createdAt: '2020-02-01' });
          const handler = await m.seller(t.db, companyId, 'member', { createdAt: '2020-03-01' });
          await t.db.query('INSERT INTO company_message_handlers (company_id, seller_id, priority) VALUES ($1, $2, 10)', [companyId, handler]);
          const members = [await m.seller(t.db, companyId), await m.seller(t.db, companyId), await m.seller(t.db, companyId)];
          for (const sellerId of [admin, handler, ...members]) {
            churned.push(sellerId);
            listings.push(await m.listing(t.db, sellerId, companyId), await m.listing(t.db, sellerId, companyId));
          }
        }
        // A company whose owner is its only owner/admin: every attempt to take them out is a last_admin refusal.
        const solo = await m.company(t.db, 'Solo Dealer');
        const soloOwner = await m.seller(t.db, solo, 'owner', { createdAt: '2020-01-01' });
        const soloMember = await m.seller(t.db, solo);
        listings.push(await m.listing(t.db, soloMember, solo));
        const buyers = await Promise.all(Array.from({ length: 12 }, () => m.buyer(t.db)));
        for (let k = 0; k < 24; k += 1) await sendBuyerMessage(t.db, { buyerId: pick(buyers), listingId: pick(listings), body: 'opening message' });
        const [{ n: messagesBefore }] = (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM messages WHERE sender_type = 'buyer'`)) as [{ n: number }];
        const companyOf = new Map<string, string>(companies.map((c, i) => [c, ['Alpha', 'Bravo', 'Charlie'][i]!]));

        /* ---------------- bookkeeping ---------------- */
        const deadlocks: string[] = [];
        const unexpected: string[] = [];
        const midRun = { checksWithViolations: 0, first: [] as Row[] };
        const proofs: Proof[] = [];
        const counts: Record<string, number> = {};
        const count = (what: string) => (counts[what] = (counts[what] ?? 0) + 1);
        const onDeadlock = (where: string, error: unknown) => {
          const e = error as DbError & { where?: string };
          deadlocks.push(`${where}: ${e.message} [${(e.where ?? '').split('\n')[0]}]`);
        };
        /** Expected refusals are counted; anything else is an unexpected error (40P01 is also recorded by `observing`). */
        const EXPECTED = new Set(['last_admin', 'already_removed', 'already_active', 'not_found', 'no_recipient', 'listing_not_active']);
        const outcome = (what: string, error: unknown) => {
          const e = error as DbError;
          const code = refusalCode(error) ?? (error instanceof DomainError ? error.code : e?.detail?.startsWith('ems:') ? e.detail.slice(4) : undefined);
          if (code && EXPECTED.has(code)) {
            count(`${what}: refused ${code}`);
          } else if (e?.code === '40001') {
            count(`${what}: serialization failure (40001)`);
          } else if (e?.code !== '40P01') {
            unexpected.push(`${what}: ${e?.code ?? ''} ${e?.message ?? String(error)} ${e?.detail ?? ''}`.trim());
          }
        };

        const stateOf = async (db: Database, sellerId: string) =>
          (await db.query<{ member_status: string; company_id: string | null }>('SELECT member_status, company_id FROM sellers WHERE id = $1', [sellerId]))[0]!;

        let deadline = 0; // of the current round
        let running = true;

        /* ---------------- workers ---------------- */

        /** Plain-SQL single-row membership statements, each in its own transaction, as the marketplace's code writes them. */
        const plainSqlWorker = async (n: number) => {
          const current = { op: '' };
          const db = observing(pool(`sql-${n}`), onDeadlock, () => `plain SQL worker ${n} (${current.op})`);
          while (Date.now() < deadline) {
            const sellerId = pick(churned);
            const { member_status: status, company_id: companyId } = await stateOf(db, sellerId);
            let what = '';
            try {
              if (status === 'active' && companyId === null) {
                what = current.op = 'sql: join a company';
                await db.query('UPDATE sellers SET company_id = $2 WHERE id = $1 AND company_id IS NULL', [sellerId, pick(companies)]);
              } else if (status === 'active') {
                const roll = Math.random();
                if (roll < 0.35) {
                  what = current.op = 'sql: remove';
                  await db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1 AND member_status = 'active'`, [sellerId]);
                } else if (roll < 0.45) {
                  what = current.op = 'sql: suspend';
                  await db.query(`UPDATE sellers SET member_status = 'suspended' WHERE id = $1 AND member_status = 'active'`, [sellerId]);
                } else if (roll < 0.9) {
                  what = current.op = 'sql: move to another company';
                  await db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [sellerId, pick(companies.filter((c) => c !== companyId))]);
                } else {
                  what = current.op = 'sql: remove and leave (one statement)';
                  await db.query(`UPDATE sellers SET member_status = 'removed', company_id = NULL WHERE id = $1 AND member_status = 'active'`, [sellerId]);
                }
              } else if (companyId !== null && chance(0.15)) {
                what = current.op = 'sql: move while not active';
                await db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [sellerId, pick(companies.filter((c) => c !== companyId))]);
              } else {
                const restore = chance(0.6);
                what = current.op = `sql: reactivate${restore ? ' with ems.restore_listings' : ''}`;
                await db.transaction(async (tx) => {
                  if (restore) await tx.query(`SET LOCAL ems.restore_listings = on`);
                  await tx.query(`UPDATE sellers SET member_status = 'active' WHERE id = $1 AND member_status <> 'active'`, [sellerId]);
                });
              }
              count(what);
            } catch (error) {
              outcome(what, error);
            }
          }
        };

        /** The API's services: removeMember / reactivateMember with the company the member is in now. */
        const apiWorker = async (n: number) => {
          const current = { op: '' };
          const db = observing(pool(`api-${n}`), onDeadlock, () => `API worker ${n} (${current.op})`);
          while (Date.now() < deadline) {
            const sellerId = pick(churned);
            const { member_status: status, company_id: companyId } = await stateOf(db, sellerId);
            if (companyId === null) continue;
            const restoreListings = chance(0.6);
            const what = status === 'active' ? 'api: removeMember' : `api: reactivateMember${restoreListings ? ' with restoreListings' : ''}`;
            current.op = what;
            try {
              if (status === 'active') await removeMember(db, { companyId, sellerId, actor: `stress-api-${n}`, reason: 'stress' });
              else await reactivateMember(db, { companyId, sellerId, actor: `stress-api-${n}`, restoreListings });
              count(what);
            } catch (error) {
              outcome(what, error);
            }
          }
        };

        /** Buyer messages, half through sendBuyerMessage and half as plain INSERTs. */
        const messageWorker = async (n: number, options: { probeSoloOwner?: boolean } = {}) => {
          const current = { op: '' };
          const db = observing(pool(`msg-${n}`), onDeadlock, () => `message worker ${n} (${current.op})`);
          while (Date.now() < deadline) {
            const listingId = pick(listings);
            const buyerId = pick(buyers);
            if (options.probeSoloOwner && chance(0.1)) {
              current.op = 'solo owner probe';
              await probeSoloOwner(db);
              continue;
            }
            if (chance(0.5)) {
              const what = (current.op = 'sendBuyerMessage');
              try {
                // The service's one statement, in a transaction of the test's own so the proof reads what holds at its commit.
                const proof = await db.transaction(async (tx) => {
                  const sent = await sendBuyerMessage(tx, { buyerId, listingId, body: `stress ${n}` });
                  return proveRecipient(tx, String(sent.messageId), what);
                });
                proofs.push(proof);
                count(what);
              } catch (error) {
                outcome(what, error);
              }
            } else {
              const what = (current.op = 'plain INSERT INTO messages');
              try {
                const proof = await db.transaction(async (tx) => {
                  const [existing] = await tx.query<{ id: string }>(
                    'SELECT id FROM conversations WHERE listing_id = $1 AND buyer_id = $2 ORDER BY created_at DESC LIMIT 1',
                    [listingId, buyerId],
                  );
                  const conversationId =
                    existing?.id ??
                    (await tx.query<{ id: string }>('INSERT INTO conversations (listing_id, buyer_id) VALUES ($1, $2) RETURNING id', [listingId, buyerId]))[0]!.id;
                  const [message] = await tx.query<{ id: string }>(
                    `INSERT INTO messages (conversation_id, sender_type, sender_id, body) VALUES ($1, 'buyer', $2, $3) RETURNING id`,
                    [conversationId, buyerId, `plain stress ${n}`],
                  );
                  return proveRecipient(tx, message!.id, what);
                });
                proofs.push(proof);
                count(what);
              } catch (error) {
                outcome(what, error);
              }
            }
          }
        };

        /** Tries to take the solo company's only owner out, on every path: each must be refused last_admin. */
        const probeSoloOwner = async (db: Database) => {
          const attempts: [string, () => Promise<unknown>][] = [
            ['solo owner: sql remove', () => db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [soloOwner])],
            ['solo owner: sql demote', () => db.query(`UPDATE sellers SET role = 'member' WHERE id = $1`, [soloOwner])],
            ['solo owner: sql move', () => db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [soloOwner, pick(companies)])],
            ['solo owner: sql delete', () => db.query('DELETE FROM sellers WHERE id = $1', [soloOwner])],
            ['solo owner: api removeMember', () => removeMember(db, { companyId: solo, sellerId: soloOwner, actor: 'stress-probe', reason: 'stress' })],
          ];
          const [what, attempt] = pick(attempts);
          try {
            await attempt();
            unexpected.push(`${what}: went through, expected a last_admin refusal`);
          } catch (error) {
            if (refusalCode(error) === 'last_admin') count(`${what}: refused last_admin`);
            else if ((error as DbError)?.code !== '40P01') unexpected.push(`${what}: expected last_admin, got ${(error as DbError)?.code ?? ''} ${(error as Error).message}`);
          }
        };

        /** Checks the invariant on live snapshots while the workers run. */
        const watcher = async () => {
          const db = pool('watch');
          let checks = 0;
          while (running) {
            const rows = await db.query(COMPANY_SCOPED_INVARIANT_SQL);
            if (rows.length > 0) {
              midRun.checksWithViolations += 1;
              if (midRun.first.length === 0) midRun.first = rows.slice(0, 3);
            }
            checks += 1;
            await sleep(20);
          }
          counts['mid-run invariant checks'] = checks;
        };

        /**
         * Between rounds (nothing else writing), a third of the open conversations are closed, so buyers
         * keep writing into closed conversations held by whoever held them then (classes 1 and 6). Closing
         * is not one of the statements class 8 is about, so it never runs concurrently with them.
         */
        const closeSomeConversations = async () => {
          const closed = await t.db.query(
            `UPDATE conversations SET status = 'closed'
              WHERE id IN (SELECT id FROM conversations WHERE status = 'open' ORDER BY random()
                            LIMIT (SELECT count(*) / 3 FROM conversations WHERE status = 'open'))
             RETURNING id`,
          );
          counts['conversations closed between rounds'] = (counts['conversations closed between rounds'] ?? 0) + closed.length;
        };

        const started = Date.now();
        const watching = watcher();
        const ROUNDS = Math.max(1, Math.round(DURATION_MS / 2500));
        for (let round = 0; round < ROUNDS; round += 1) {
          await closeSomeConversations();
          deadline = Date.now() + DURATION_MS / ROUNDS;
          await Promise.all([
            plainSqlWorker(0),
            plainSqlWorker(1),
            plainSqlWorker(2),
            apiWorker(3),
            apiWorker(4),
            messageWorker(5),
            messageWorker(6),
            messageWorker(7, { probeSoloOwner: true }),
          ]);
        }
        running = false;
        await watching;
        const elapsed = Date.now() - started;

        /* ---------------- verdict ---------------- */
        const finalViolations = await t.db.query(COMPANY_SCOPED_INVARIANT_SQL);
        const bad = proofs.filter(misrouted).map((p) => ({
          ...p,
          recipientCompany: p.recipientCompany && (companyOf.get(p.recipientCompany) ?? p.recipientCompany),
          listingCompany: p.listingCompany && (companyOf.get(p.listingCompany) ?? p.listingCompany),
        }));
        const [{ n: messagesAfter }] = (await t.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM messages WHERE sender_type = 'buyer'`)) as [{ n: number }];
        const ownersLeft = await t.db.query<{ id: string; company_id: string; role: string; member_status: string }>(
          'SELECT id, company_id, role, member_status FROM sellers WHERE id = ANY($1::ems_seller_id[]) ORDER BY id',
          [[...permanentOwners, soloOwner]],
        );
        const total = (prefix: string) => Object.entries(counts).filter(([k]) => k.startsWith(prefix)).reduce((sum, [, v]) => sum + v, 0);
        console.info(
          `membership stress: ${elapsed} ms, ${proofs.length} buyer messages proven, ${deadlocks.length} deadlocks, ` +
            `${unexpected.length} unexpected errors, ${bad.length} misrouted; operations ${JSON.stringify(counts)}`,
        );

        const summary = <T>(items: readonly T[], n = 3) => ({ count: items.length, first: items.slice(0, n) });
        const none = { count: 0, first: [] };
        expect.soft(summary(deadlocks, 5), 'SQLSTATE 40P01 seen anywhere (plain SQL, or retried inside the services)').toEqual(none);
        const unexpectedByKind: Record<string, number> = {};
        for (const u of unexpected) {
          const kind = u.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9]+\b/g, '<id>');
          unexpectedByKind[kind] = (unexpectedByKind[kind] ?? 0) + 1;
        }
        expect.soft(unexpectedByKind, 'unexpected errors (by kind, with counts)').toEqual({});
        expect.soft(midRun, 'invariant violations on live snapshots while running').toEqual({ checksWithViolations: 0, first: [] });
        expect.soft(summary(finalViolations), 'invariant violations at the end').toEqual(none);
        expect.soft(summary(bad), 'buyer messages stored for a recipient not an active member of the listing company at commit').toEqual(none);
        // Every buyer message stored during the run was proven (none stored without a proof).
        expect.soft(messagesAfter - messagesBefore).toBe(proofs.length);
        // The solo company's owner is still its active owner; so are the other companies' owners.
        const byId = (x: { id: string }, y: { id: string }) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);
        expect.soft([...ownersLeft].sort(byId)).toEqual(
          [
            ...permanentOwners.map((id, i) => ({ id, company_id: companies[i], role: 'owner', member_status: 'active' })),
            { id: soloOwner, company_id: solo, role: 'owner', member_status: 'active' },
          ].sort(byId),
        );
        // It really mixed: every kind of operation happened.
        expect(total('sql: remove'), 'plain-SQL removals').toBeGreaterThan(0);
        expect(total('sql: reactivate'), 'plain-SQL reactivations').toBeGreaterThan(0);
        expect(total('sql: move'), 'plain-SQL company moves').toBeGreaterThan(0);
        expect(total('api: removeMember'), 'API removals').toBeGreaterThan(0);
        expect(total('api: reactivateMember'), 'API reactivations').toBeGreaterThan(0);
        expect(counts['sendBuyerMessage'] ?? 0, 'messages through sendBuyerMessage').toBeGreaterThan(0);
        expect(counts['plain INSERT INTO messages'] ?? 0, 'plain INSERT messages').toBeGreaterThan(0);
        expect(counts['mid-run invariant checks'] ?? 0).toBeGreaterThan(0);
      },
      DURATION_MS + 90_000,
    );
  });
}
