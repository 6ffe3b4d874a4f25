/**
 * Races on real parallel connections (separate pools on one test database):
 *  (a) buyer messages racing removals, suspensions and reactivations of their
 *      recipients: no message is ever committed to a member who is not active;
 *  (b) concurrent removals: of the last two owners/admins (one is refused
 *      last_admin), of the same member twice (one is refused already_removed);
 *  (c) reactivation racing removal of the same member: a consistent end state.
 *
 * Commit order is proven from the database, not from clocks: each racing
 * transaction records its xid and a snapshot as its last statement before COMMIT
 * (CommitSnapshotRecorder). A transaction visible in another's final snapshot
 * committed before it; the audit rows carry the xid of the status change.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgDatabase } from '../../functions/database/pg-adapter';
import type { Database } from '../../functions/database/port';
import type { IdType } from '../../functions/shared/config';
import { reactivateMember, removeMember } from '../../functions/domain/company-members';
import { updateMessageHandlers } from '../../functions/domain/company';
import { sendBuyerMessage } from '../../functions/domain/messaging';
import type { Id } from '../../functions/http/response-schemas';
import { INVARIANT_VIOLATIONS_SQL, verifyInstallation } from '../../functions/verification/verify';
import { createMigratedDatabase, ROUTING_ID_TYPES, type TestDatabase } from '../helpers/database';
import * as m from '../helpers/marketplace';
import {
  auditChainProblems,
  CommitSnapshotRecorder,
  type CommitSnapshot,
  Gate,
  invariantViolations,
  messagesNotProvenActiveAtCommit,
  ownershipChainProblems,
  type RecordedMessage,
  refusalCode,
} from '../helpers/routing-checks';

const LONG = process.env.EMS_LONG_TESTS === '1';
const SENDERS = 8;
const MESSAGES_PER_SENDER = LONG ? 100 : 25;
const ITERATIONS = LONG ? 40 : 8;

let t: TestDatabase;
const pools: PgDatabase[] = [];
/** Racer `n`'s connections: a separate pool of its own, created once and reused by later tests. */
function pool(n: number): PgDatabase {
  pools[n] ??= new PgDatabase(t.url, { max: 2, applicationName: `ems-race-${n}` });
  return pools[n];
}

/** Registers, in the enclosing describe, one database migrated with `idType` ids for its tests. */
function aMigratedDatabase(idType: IdType): void {
  beforeAll(async () => {
    t = await createMigratedDatabase(idType);
    // Deadlocks are expected in (b) on the plain-SQL path: detect them in 100 ms rather than
    // the default second (best effort: needs a role allowed to set it).
    await t.db.query(`ALTER DATABASE ${t.name} SET deadlock_timeout = '100ms'`).catch(() => undefined);
  });
  afterAll(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
    await t?.drop();
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const jitter = () => sleep(Math.floor(Math.random() * 3));
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

/** The plain-SQL path of the marketplace's own code, in a transaction of its own, optionally naming its actor. */
async function plainStatusUpdate(db: Database, sellerId: string, status: string, options: { restore?: boolean; actor?: string } = {}) {
  await db.transaction(async (tx) => {
    if (options.actor) await tx.query(`SELECT set_config('ems.actor', $1, true)`, [options.actor]);
    if (options.restore) await tx.query(`SET LOCAL ems.restore_listings = 'on'`);
    await tx.query(`UPDATE sellers SET member_status = $2 WHERE id = $1`, [sellerId, status]);
  });
}

/**
 * The services retry deadlocks themselves; the marketplace's plain SQL does not, so the race
 * retries it like a careful caller would, and counts the deadlocks (see the lock-order test below).
 */
async function retryingDeadlocks<T>(work: () => Promise<T>, count: (what: string) => void): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if ((error as { code?: string }).code !== '40P01' || attempt >= 5) throw error;
      count('plain-SQL deadlocks retried');
    }
  }
}

async function expectConsistent(companyId: string) {
  // The tests' own definition of the invariant; verifyInstallation below checks the verification's.
  expect(await invariantViolations(t.db)).toEqual([]);
  expect(await ownershipChainProblems(t.db, companyId)).toEqual([]);
  expect(await auditChainProblems(t.db, companyId)).toEqual([]);
  const report = await verifyInstallation(t.db);
  expect(report.checks.filter((c) => !c.ok)).toEqual([]);
}

const statusOf = async (sellerId: string) =>
  (await t.db.query<{ member_status: string }>('SELECT member_status FROM sellers WHERE id = $1', [sellerId]))[0]!.member_status;

/** Waits until `count` sessions of the test database wait for a lock. */
async function waitForLockWaiters(count: number) {
  for (let attempt = 0; attempt < 1000; attempt += 1) {
    const [row] = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if (row!.n >= count) return;
    await sleep(5);
  }
  throw new Error(`no session came to wait for a lock`);
}

/** The pids blocking the waiting session of a racer's pool (none when it does not wait). */
async function blockersOf(applicationName: string): Promise<number[]> {
  const rows = await t.db.query<{ blockers: number[] }>(
    `SELECT pg_blocking_pids(pid) AS blockers FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = $1 AND wait_event_type = 'Lock'`,
    [applicationName],
  );
  return rows.flatMap((row) => row.blockers);
}

async function waitUntil(condition: () => Promise<boolean>) {
  for (let attempt = 0; attempt < 1000; attempt += 1) {
    if (await condition()) return;
    await sleep(5);
  }
  throw new Error('condition not reached');
}

for (const idType of ROUTING_ID_TYPES) {
  describe(`on ${idType} ids`, () => {
    aMigratedDatabase(idType);

    describe('the commit-order proof', () => {
      // Self-test: with the routing trigger bypassed, the proof must reject a message stored for
      // a removed member, and one whose commit order against the removal cannot be told.
      async function bypassedMessage(db: PgDatabase, conversationId: Id, buyerId: string, recipientId: string) {
        const client = await db.pool.connect();
        await client.query('BEGIN');
        await client.query('SET LOCAL session_replication_role = replica');
        const { rows } = await client.query<{ id: string }>(
          `INSERT INTO messages (conversation_id, sender_type, sender_id, recipient_id, body) VALUES ($1, 'buyer', $2, $3, 'bypassed') RETURNING id`,
          [conversationId, buyerId, recipientId],
        );
        const snapshot = await client.query<CommitSnapshot>('SELECT pg_current_xact_id()::text AS xid, pg_current_snapshot()::text AS snapshot');
        return {
          message: { messageId: rows[0]!.id, recipientId, ...snapshot.rows[0]! },
          commit: async () => {
            await client.query('COMMIT');
            client.release();
          },
        };
      }

      async function scene() {
        const companyId = await m.company(t.db);
        await m.seller(t.db, companyId, 'owner');
        const member = await m.seller(t.db, companyId, 'member');
        const listingId = await m.listing(t.db, member, companyId);
        const buyerId = await m.buyer(t.db);
        const first = await sendBuyerMessage(t.db, { buyerId, listingId, body: 'hello' });
        return { companyId, member, buyerId, conversationId: first.conversationId };
      }

      it('rejects a message committed after its recipient was removed', async () => {
        const s = await scene();
        const remover = new CommitSnapshotRecorder(pool(0));
        await removeMember(remover, { companyId: s.companyId, sellerId: s.member, actor: 'test', reason: 'test' });
        const removal = remover.take();
        const bypassed = await bypassedMessage(pool(1), s.conversationId, s.buyerId, s.member);
        await bypassed.commit();
        const rows = await messagesNotProvenActiveAtCommit(t.db, [bypassed.message], [removal]);
        expect(rows).toEqual([expect.objectContaining({ message_id: bypassed.message.messageId, status_at_commit: 'removed' })]);
      });

      it('rejects a message whose commit order against a removal of its recipient is unknown', async () => {
        const s = await scene();
        const bypassed = await bypassedMessage(pool(0), s.conversationId, s.buyerId, s.member);
        // The removal takes its final snapshot while the message is not committed yet, and vice versa.
        const client = await pool(1).pool.connect();
        await client.query('BEGIN');
        await client.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [s.member]);
        const removal = (await client.query<CommitSnapshot>('SELECT pg_current_xact_id()::text AS xid, pg_current_snapshot()::text AS snapshot')).rows[0]!;
        await bypassed.commit();
        await client.query('COMMIT');
        client.release();
        const rows = await messagesNotProvenActiveAtCommit(t.db, [bypassed.message], [removal]);
        expect(rows).toEqual([expect.objectContaining({ message_id: bypassed.message.messageId, unknown_order: 1 })]);
        // Without the removal's snapshot the order is unknown as well.
        expect(await messagesNotProvenActiveAtCommit(t.db, [bypassed.message], [])).toHaveLength(1);
      });

      it('accepts a message committed before its recipient was removed', async () => {
        const s = await scene();
        const sender = new CommitSnapshotRecorder(pool(0));
        const listing = (await t.db.query<{ listing_id: string }>('SELECT listing_id FROM conversations WHERE id = $1', [s.conversationId]))[0]!;
        const message = await sendBuyerMessage(sender, { buyerId: s.buyerId, listingId: listing.listing_id, body: 'again' });
        const recorded = { messageId: message.messageId, recipientId: message.recipient.id, ...sender.take() };
        const remover = new CommitSnapshotRecorder(pool(1));
        await removeMember(remover, { companyId: s.companyId, sellerId: s.member, actor: 'test', reason: 'test' });
        expect(recorded.recipientId).toBe(s.member);
        expect(await messagesNotProvenActiveAtCommit(t.db, [recorded], [remover.take()])).toEqual([]);
      });
    });

    describe('(a) buyer messages racing removals and reactivations of their recipients', () => {
      it(`${SENDERS} senders × ${MESSAGES_PER_SENDER} messages: every message reached a member active at its commit`, async () => {
        const companyId = await m.company(t.db);
        const owner = await m.seller(t.db, companyId, 'owner', { createdAt: '2020-01-01' });
        const admin = await m.seller(t.db, companyId, 'admin', { createdAt: '2020-02-01' });
        const handler = await m.seller(t.db, companyId, 'member', { createdAt: '2020-03-01' });
        const backupHandler = await m.seller(t.db, companyId, 'member', { createdAt: '2020-04-01' });
        await updateMessageHandlers(t.db, {
          companyId,
          actor: 'setup',
          changes: [
            { sellerId: handler, priority: 10 },
            { sellerId: backupHandler, priority: 20 },
          ],
        });
        const a = await m.seller(t.db, companyId, 'member');
        const b = await m.seller(t.db, companyId, 'member');
        const listings = [await m.listing(t.db, a, companyId), await m.listing(t.db, a, companyId), await m.listing(t.db, b, companyId), await m.listing(t.db, b, companyId)];
        const buyers = await Promise.all(Array.from({ length: 6 }, () => m.buyer(t.db)));

        const messages: RecordedMessage[] = [];
        const changes: CommitSnapshot[] = [];
        const failures: string[] = [];
        const operations: Record<string, number> = {};
        const count = (what: string) => (operations[what] = (operations[what] ?? 0) + 1);
        let sending = true;

        const sender = async (n: number) => {
          const recorder = new CommitSnapshotRecorder(pool(n));
          for (let k = 0; k < MESSAGES_PER_SENDER; k += 1) {
            try {
              const message = await sendBuyerMessage(recorder, { buyerId: pick(buyers), listingId: pick(listings), body: `sender ${n} message ${k}` });
              messages.push({ messageId: message.messageId, recipientId: message.recipient.id, ...recorder.take() });
            } catch (error) {
              const e = error as { message?: string; code?: string; detail?: string; where?: string };
              failures.push(`sender ${n} message ${k}: ${e.message} (${e.code ?? 'no code'}) ${e.detail ?? ''} ${e.where ?? ''}`.trim());
            }
          }
        };

        /** Takes `sellerId` out (removal or suspension, service or plain SQL) and back (with or without restore), until the senders are done. */
        const churn = async (sellerId: string, name: string, n: number) => {
          const recorder = new CommitSnapshotRecorder(pool(n));
          for (let round = 0; sending; round += 1) {
            const out = round % 3 === 2 ? 'suspended' : 'removed';
            try {
              if (round % 2 === 0 && out === 'removed') {
                await removeMember(recorder, { companyId, sellerId, actor: `race:${name}`, reason: 'race' });
              } else {
                await retryingDeadlocks(() => plainStatusUpdate(recorder, sellerId, out), count);
              }
              changes.push(recorder.take());
              count(`${name} ${out}`);
              await jitter();
              const restore = round % 4 !== 3;
              if (round % 2 === 1) await reactivateMember(recorder, { companyId, sellerId, actor: `race:${name}`, restoreListings: restore });
              else await retryingDeadlocks(() => plainStatusUpdate(recorder, sellerId, 'active', { restore }), count);
              changes.push(recorder.take());
              count(`${name} reactivated${restore ? ' with restore' : ''}`);
              await jitter();
            } catch (error) {
              const e = error as { message?: string; code?: string; detail?: string; where?: string };
              failures.push(`${name} round ${round}: ${e.message} (${e.code ?? 'no code'}) ${e.detail ?? ''} ${e.where ?? ''}`.trim());
              await sleep(5);
            }
          }
        };

        /** The backup handler stops and starts handling (no status change: nothing to audit). */
        const toggleHandler = async () => {
          const db = pool(SENDERS + 3);
          for (let round = 0; sending; round += 1) {
            try {
              await updateMessageHandlers(db, { companyId, actor: 'race:handlers', changes: [{ sellerId: backupHandler, active: round % 2 === 1, priority: 20 }] });
              count('backup handler toggled');
            } catch (error) {
              failures.push(`handler toggle ${round}: ${(error as Error).message}`);
            }
            await sleep(2);
          }
        };

        /** Every snapshot the racers commit must satisfy the invariant and the chains, not only the final one. */
        const watch = async () => {
          const db = pool(SENDERS + 4);
          let checks = 0;
          while (sending) {
            // Both definitions of the invariant (the tests' own and the verification's): each catches a bug in the other.
            const [violations, verified, chains] = await Promise.all([
              invariantViolations(db),
              db.query(INVARIANT_VIOLATIONS_SQL),
              ownershipChainProblems(db, companyId),
            ]);
            if (violations.length > 0) failures.push(`invariant violated mid-race: ${JSON.stringify(violations)}`);
            if (verified.length > 0) failures.push(`invariant violated mid-race (verification's query): ${JSON.stringify(verified)}`);
            if (chains.length > 0) failures.push(`ownership chain broken mid-race: ${JSON.stringify(chains)}`);
            checks += 1;
            await sleep(3);
          }
          operations['mid-race checks'] = checks;
        };

        const started = Date.now();
        const background = Promise.all([churn(a, 'A', SENDERS), churn(b, 'B', SENDERS + 1), churn(handler, 'handler', SENDERS + 2), toggleHandler(), watch()]);
        await Promise.all(Array.from({ length: SENDERS }, (_, n) => sender(n)));
        sending = false;
        await background;
        const elapsed = Date.now() - started;

        expect(failures).toEqual([]);
        expect(messages).toHaveLength(SENDERS * MESSAGES_PER_SENDER);
        expect(operations['mid-race checks']).toBeGreaterThan(0);
        // The race really raced: every member went out and came back several times.
        for (const name of ['A', 'B', 'handler']) {
          const outs = Object.entries(operations).filter(([k]) => k.startsWith(`${name} `) && !k.includes('reactivated'));
          expect(outs.reduce((sum, [, n]) => sum + n, 0), `${name} removals during the race`).toBeGreaterThanOrEqual(3);
        }

        // (1) the invariant and the verification.
        await expectConsistent(companyId);

        // (2) no buyer message without a recipient; exactly the messages the senders stored.
        const stored = await t.db.query<{ id: string; recipient_id: string | null; conversation_id: string }>(
          `SELECT msg.id, msg.recipient_id, msg.conversation_id
             FROM messages msg JOIN conversations c ON c.id = msg.conversation_id JOIN listed_cars l ON l.id = c.listing_id
            WHERE l.company_id = $1 AND msg.sender_type = 'buyer'`,
          [companyId],
        );
        expect(stored.filter((s) => s.recipient_id === null)).toEqual([]);
        expect(stored.map((s) => s.id).sort()).toEqual(messages.map((s) => s.messageId).sort());

        // (3) a message to a member who is no longer active: its conversation (none is closed here)
        // was moved away from them after it: the log's last row giving it to them is followed by
        // one taking it away.
        const stranded = await t.db.query(
          `SELECT msg.id, msg.recipient_id, c.status, c.seller_id
             FROM messages msg JOIN conversations c ON c.id = msg.conversation_id JOIN sellers s ON s.id = msg.recipient_id
             JOIN listed_cars l ON l.id = c.listing_id
            WHERE l.company_id = $1 AND msg.sender_type = 'buyer' AND s.member_status <> 'active'
              AND (c.seller_id IS NOT DISTINCT FROM msg.recipient_id
                   OR NOT EXISTS (SELECT 1 FROM conversation_ownership_log g
                                   WHERE g.conversation_id = c.id AND g.previous_owner_id = msg.recipient_id
                                     AND g.id > (SELECT max(g2.id) FROM conversation_ownership_log g2
                                                  WHERE g2.conversation_id = c.id AND g2.new_owner_id = msg.recipient_id)))`,
          [companyId],
        );
        expect(stranded).toEqual([]);

        // (4) each message's recipient was active when the message committed: every status change
        // of the recipient is placed before or after the message's commit by the final snapshots,
        // and the last one before it left the recipient active.
        expect(await messagesNotProvenActiveAtCommit(t.db, messages, changes)).toEqual([]);
        // Every audit row of the race comes from a recorded transaction (nothing unaccounted).
        const [unrecorded] = await t.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM company_member_audit a
            WHERE a.company_id = $1 AND NOT (a.transaction_id::text = ANY ($2::text[]))`,
          [companyId, changes.map((c) => c.xid)],
        );
        expect(unrecorded!.n).toBe(0);
        const recipients = new Map<Id, number>();
        for (const message of messages) recipients.set(message.recipientId, (recipients.get(message.recipientId) ?? 0) + 1);
        const name = new Map([[owner, 'owner'], [admin, 'admin'], [handler, 'handler'], [backupHandler, 'backup handler'], [a, 'A'], [b, 'B']]);
        console.info(
          `race (a): ${messages.length} messages in ${elapsed} ms; recipients ${JSON.stringify(Object.fromEntries([...recipients].map(([id, n]) => [name.get(String(id)) ?? id, n])))}; ` +
            `operations ${JSON.stringify(operations)}`,
        );
      });
    });

    describe('(b) concurrent removals', () => {
      type Remover = (db: Database, companyId: string, sellerId: string, actor: string) => Promise<unknown>;
      const removers: Record<'service' | 'sql', Remover> = {
        service: (db, companyId, sellerId, actor) => removeMember(db, { companyId, sellerId, actor, reason: 'race' }),
        sql: (db, _companyId, sellerId, actor) => plainStatusUpdate(db, sellerId, 'removed', { actor }),
      };

      /** Runs the racers together: each waits at a closed gate until all are there. */
      async function race(racers: ((db: Database) => Promise<unknown>)[]) {
        const gate = await Gate.closed(t.url);
        const running = racers.map((racer, n) => racer(gate.database(pool(n))));
        try {
          await gate.waiting(racers.length, running);
        } finally {
          await gate.open();
        }
        return Promise.allSettled(running);
      }

      const refusalOf = (result: PromiseSettledResult<unknown>) => {
        if (result.status === 'fulfilled') return 'ok';
        if ((result.reason as { code?: string }).code === '40P01') return 'deadlock';
        return refusalCode(result.reason) ?? String(result.reason);
      };

      it(`the last two owners/admins removed at once through the service: exactly one succeeds, the other is refused last_admin`, async () => {
        for (let i = 0; i < ITERATIONS; i += 1) {
          const { companyId, owner, admin } = await twoAdmins();
          const [x, y] = i % 2 === 0 ? [owner, admin] : [admin, owner]; // alternate which one starts first
          const results = await race([(db) => removers.service(db, companyId, x, 'racer-1'), (db) => removers.service(db, companyId, y, 'racer-2')]);
          expect(results.map(refusalOf).sort(), `iteration ${i}`).toEqual(['last_admin', 'ok']);
          await expectOneAdminRemoved(companyId, owner, admin);
        }
      });

      // The plain-SQL path cannot take the company lock before it locks the member's row (the
      // guard trigger runs after), so the loser may be aborted as a deadlock (40P01, retryable)
      // rather than refused; retried, it is refused last_admin. Never are both removed.
      for (const [first, second] of [['sql', 'sql'], ['service', 'sql']] as const) {
        it(`the last two owners/admins removed at once (${first} vs ${second}): exactly one succeeds; the other is refused last_admin, at once or when retried after a deadlock`, async () => {
          const deadlocks: number[] = [];
          for (let i = 0; i < ITERATIONS; i += 1) {
            const { companyId, owner, admin } = await twoAdmins();
            const [x, y] = i % 2 === 0 ? [owner, admin] : [admin, owner];
            const paths = [first, second] as const;
            const results = await race([(db) => removers[paths[0]](db, companyId, x, 'racer-1'), (db) => removers[paths[1]](db, companyId, y, 'racer-2')]);
            const outcomes = results.map(refusalOf);
            expect(outcomes.filter((o) => o === 'ok'), `iteration ${i}: ${outcomes.join(', ')}`).toHaveLength(1);
            const loser = outcomes.findIndex((o) => o !== 'ok');
            if (outcomes[loser] === 'deadlock') {
              expect(paths[loser], 'the service retries deadlocks itself').toBe('sql');
              deadlocks.push(i);
              const retried = await removers[paths[loser]!](pool(5), companyId, [x, y][loser]!, 'racer-retry').then(() => 'ok', (e: unknown) => refusalCode(e) ?? String(e));
              expect(retried, `iteration ${i}: retry after the deadlock`).toBe('last_admin');
            } else {
              expect(outcomes[loser], `iteration ${i}`).toBe('last_admin');
            }
            await expectOneAdminRemoved(companyId, owner, admin);
          }
          if (deadlocks.length > 0) console.info(`last-admin race (${first} vs ${second}): the loser deadlocked in iterations ${deadlocks.join(', ')}`);
        });
      }

      async function twoAdmins() {
        const companyId = await m.company(t.db);
        const owner = await m.seller(t.db, companyId, 'owner', { createdAt: '2020-01-01' });
        const admin = await m.seller(t.db, companyId, 'admin', { createdAt: '2020-02-01' });
        const member = await m.seller(t.db, companyId, 'member');
        const listings = [await m.listing(t.db, owner, companyId), await m.listing(t.db, admin, companyId), await m.listing(t.db, member, companyId)];
        await sendBuyerMessage(t.db, { buyerId: await m.buyer(t.db), listingId: listings[1]!, body: 'hello' });
        await sendBuyerMessage(t.db, { buyerId: await m.buyer(t.db), listingId: listings[0]!, body: 'hello' });
        return { companyId, owner, admin };
      }

      async function expectOneAdminRemoved(companyId: string, owner: string, admin: string) {
        expect([await statusOf(owner), await statusOf(admin)].sort()).toEqual(['active', 'removed']);
        const audit = await t.db.query('SELECT seller_id, action FROM company_member_audit WHERE company_id = $1', [companyId]);
        expect(audit).toHaveLength(1);
        await expectConsistent(companyId);
      }

      for (const [first, second] of [['service', 'service'], ['service', 'sql']] as const) {
        it(`the same member removed twice at once (${first} vs ${second}): removed once, audited once`, async () => {
          for (let i = 0; i < ITERATIONS; i += 1) {
            const companyId = await m.company(t.db);
            await m.seller(t.db, companyId, 'owner');
            await m.seller(t.db, companyId, 'admin');
            const member = await m.seller(t.db, companyId, 'member');
            const listingId = await m.listing(t.db, member, companyId);
            await sendBuyerMessage(t.db, { buyerId: await m.buyer(t.db), listingId, body: 'hello' });
            const results = await race([
              (db) => removers[first](db, companyId, member, 'racer-1'),
              (db) => removers[second](db, companyId, member, 'racer-2'),
            ]);
            const outcomes = results.map(refusalOf);
            if (second === 'service') {
              expect([...outcomes].sort(), `iteration ${i}`).toEqual(['already_removed', 'ok']);
            } else {
              // Plain SQL has no "already" check: it succeeds, as a no-op when it comes second;
              // the service is refused when it comes second.
              expect(outcomes[1], `iteration ${i}`).toBe('ok');
              expect(['ok', 'already_removed']).toContain(outcomes[0]);
            }
            expect(await statusOf(member)).toBe('removed');
            const audit = await t.db.query<{ actor: string; listings_moved: number; conversations_moved: number }>(
              'SELECT actor, listings_moved, conversations_moved FROM company_member_audit WHERE seller_id = $1',
              [member],
            );
            expect(audit).toHaveLength(1);
            expect(audit[0]).toMatchObject({ listings_moved: 1, conversations_moved: 1 });
            if (outcomes[0] === 'already_removed') expect(audit[0]!.actor).toBe('racer-2');
            const [moves] = await t.db.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM conversation_ownership_log g JOIN conversations c ON c.id = g.conversation_id
                WHERE c.listing_id = $1 AND g.reason = 'member_removed'`,
              [listingId],
            );
            expect(moves!.n).toBe(1);
            await expectConsistent(companyId);
          }
        });
      }

      // The interleaving the race above hits by chance, made deterministic: the service reads the
      // member's status, then its UPDATE waits for a plain-SQL transaction that makes the same change.
      for (const change of [
        { to: 'removed', from: 'active', refusal: 'already_removed' },
        { to: 'active', from: 'removed', refusal: 'already_active' },
      ] as const) {
        it(`a plain-SQL change to '${change.to}' committing while the service makes the same change: the service answers ${change.refusal}`, async () => {
          const companyId = await m.company(t.db);
          await m.seller(t.db, companyId, 'owner');
          await m.seller(t.db, companyId, 'admin');
          const member = await m.seller(t.db, companyId, 'member');
          await m.listing(t.db, member, companyId);
          if (change.from === 'removed') await removeMember(t.db, { companyId, sellerId: member, actor: 'setup', reason: 'setup' });
          const service = pool(0);
          let outcome: Promise<string> | undefined;
          await pool(1).transaction(async (tx) => {
            await tx.query(`UPDATE sellers SET member_status = $2 WHERE id = $1`, [member, change.to]);
            outcome = (
              change.to === 'removed'
                ? removeMember(service, { companyId, sellerId: member, actor: 'service', reason: 'race' })
                : reactivateMember(service, { companyId, sellerId: member, actor: 'service', restoreListings: true })
            ).then(
              () => 'ok',
              (e: unknown) => refusalCode(e) ?? `${(e as Error).name}: ${(e as Error).message}`,
            );
            await waitForLockWaiters(1); // the service's UPDATE waits for this transaction's row lock
          });
          // The service read the old status, so it goes ahead; its UPDATE then finds the change made.
          expect(await outcome).toBe(change.refusal);
          expect(await statusOf(member)).toBe(change.to);
          await expectConsistent(companyId);
        });
      }
    });


    describe('(c) reactivation racing removal of the same member', () => {
      const variants = [
        { remove: 'service', reactivate: 'service' },
        { remove: 'sql', reactivate: 'service' },
        { remove: 'service', reactivate: 'sql' },
      ] as const;

      for (const variant of variants) {
        it(`remove (${variant.remove}) vs reactivate with restore (${variant.reactivate}), with a buyer message in the middle: a consistent end state`, async () => {
          for (let i = 0; i < ITERATIONS * 2; i += 1) {
            const companyId = await m.company(t.db);
            await m.seller(t.db, companyId, 'owner', { createdAt: '2020-01-01' });
            const admin = await m.seller(t.db, companyId, 'admin', { createdAt: '2020-02-01' });
            const member = await m.seller(t.db, companyId, 'member');
            const listingId = await m.listing(t.db, member, companyId);
            const buyerId = await m.buyer(t.db);
            await sendBuyerMessage(t.db, { buyerId, listingId, body: 'first' });
            const startRemoved = i % 2 === 1;
            if (startRemoved) await removeMember(t.db, { companyId, sellerId: member, actor: 'setup', reason: 'setup' });
            const [{ last: auditBefore }] = (await t.db.query<{ last: number }>(
              'SELECT coalesce(max(id), 0) AS last FROM company_member_audit WHERE seller_id = $1',
              [member],
            )) as [{ last: number }];

            const recorders = { remove: new CommitSnapshotRecorder(pool(0)), reactivate: new CommitSnapshotRecorder(pool(1)), send: new CommitSnapshotRecorder(pool(2)) };
            const gate = await Gate.closed(t.url);
            const outcome = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => refusalCode(e) ?? String(e));
            const run = {
              remove: outcome(
                variant.remove === 'service'
                  ? removeMember(gate.database(recorders.remove), { companyId, sellerId: member, actor: 'racer-remove', reason: 'race' })
                  : plainStatusUpdate(gate.database(recorders.remove), member, 'removed', { actor: 'racer-remove' }),
              ),
              reactivate: outcome(
                variant.reactivate === 'service'
                  ? reactivateMember(gate.database(recorders.reactivate), { companyId, sellerId: member, actor: 'racer-reactivate', restoreListings: true })
                  : plainStatusUpdate(gate.database(recorders.reactivate), member, 'active', { actor: 'racer-reactivate', restore: true }),
              ),
              send: sendBuyerMessage(gate.database(recorders.send), { buyerId, listingId, body: 'during the race' }).catch((e: unknown) => e as Error),
            };
            try {
              await gate.waiting(3, Object.values(run));
            } finally {
              await gate.open();
            }
            const settled = { remove: await run.remove, reactivate: await run.reactivate, send: await run.send };
            const where = `iteration ${i} (${startRemoved ? 'removed' : 'active'} at start): ${JSON.stringify({ remove: settled.remove, reactivate: settled.reactivate })}`;

            // Refusals are only the "already" ones, and only for the service path.
            expect(['ok', ...(variant.remove === 'service' ? ['already_removed'] : [])], where).toContain(settled.remove);
            expect(['ok', ...(variant.reactivate === 'service' ? ['already_active'] : [])], where).toContain(settled.reactivate);
            expect(settled.send, where).not.toBeInstanceOf(Error);

            // The audit rows of the race: one per operation that changed the status, nothing else.
            const audit = await t.db.query<{ id: number; actor: string; new_status: string; transaction_id: string; listings_restored: number }>(
              `SELECT id, actor, new_status, transaction_id::text, listings_restored FROM company_member_audit WHERE seller_id = $1 AND id > $2 ORDER BY id`,
              [member, auditBefore],
            );
            const changedBy = audit.map((row) => row.actor);
            if (settled.remove !== 'ok') expect(changedBy, where).not.toContain('racer-remove');
            if (settled.reactivate !== 'ok') expect(changedBy, where).not.toContain('racer-reactivate');
            expect(new Set(changedBy).size, where).toBe(changedBy.length);
            // Something always changes: from active the removal must win, from removed the reactivation must.
            expect(changedBy, where).toContain(startRemoved ? 'racer-reactivate' : 'racer-remove');

            // Commit order from the snapshots agrees with the audit order, and the status is
            // the result of the operation that committed last.
            const snapshots = new Map<string, CommitSnapshot>();
            for (const recorder of [recorders.remove, recorders.reactivate]) if (recorder.last) snapshots.set(recorder.last.xid, recorder.last);
            for (let k = 1; k < audit.length; k += 1) {
              const later = snapshots.get(audit[k]!.transaction_id);
              expect(later, where).toBeDefined();
              const [visible] = await t.db.query<{ v: boolean }>(`SELECT pg_visible_in_snapshot($1::xid8, $2::pg_snapshot) AS v`, [
                audit[k - 1]!.transaction_id,
                later!.snapshot,
              ]);
              expect(visible!.v, `${where}: audit row ${k - 1} committed before row ${k}`).toBe(true);
            }
            const finalStatus = await statusOf(member);
            expect(finalStatus, where).toBe(audit.at(-1)!.new_status);

            // What the member holds matches who committed last.
            const [listing] = await t.db.query<{ current_owner_id: string | null; current_owner_type: string; status: string }>(
              'SELECT current_owner_id, current_owner_type, status FROM listed_cars WHERE id = $1',
              [listingId],
            );
            if (finalStatus === 'active') {
              // Reactivated last, with restore: the listing is theirs again.
              expect(listing, where).toMatchObject({ current_owner_id: member, current_owner_type: 'seller', status: 'active' });
            } else {
              expect(listing, where).toMatchObject({ current_owner_id: admin, current_owner_type: 'company_admin', status: 'active' });
            }

            // The message reached someone active at its commit.
            const message = settled.send as Exclude<typeof settled.send, Error>;
            const changes = [recorders.remove.last, recorders.reactivate.last].filter((c): c is CommitSnapshot => c !== undefined);
            expect(
              // (The setup's removal committed before the race began: visible in every racer's snapshot.)
              await messagesNotProvenActiveAtCommit(t.db, [{ messageId: message.messageId, recipientId: message.recipient.id, ...recorders.send.take() }], changes),
              where,
            ).toEqual([]);
            await expectConsistent(companyId);
          }
        });
      }
    });


    describe('(d) lock order between a buyer message and a removal', () => {
      // migration 3: "Lock order everywhere: seller rows, then listings, then conversations".
      // A buyer message whose conversation moved while it waited for the conversation's row lock
      // routes again; it must not then wait for a seller row while it still holds the conversation,
      // or it deadlocks with a removal of that seller (which holds the seller row and waits for the
      // conversation to move it). Plain SQL on both sides: no service retry hides a deadlock.
      it('a message that re-routes after its conversation moved does not deadlock with a removal of the new owner', async () => {
        const outcomes: string[] = [];
        for (let i = 0; i < 3; i += 1) {
          const companyId = await m.company(t.db);
          await m.seller(t.db, companyId, 'owner', { createdAt: '2020-01-01' });
          const handler = await m.seller(t.db, companyId, 'member', { createdAt: '2020-03-01' });
          await updateMessageHandlers(t.db, { companyId, actor: 'setup', changes: [{ sellerId: handler, priority: 10 }] });
          const member = await m.seller(t.db, companyId, 'member');
          const listingId = await m.listing(t.db, member, companyId);
          const buyerId = await m.buyer(t.db);
          const { conversationId } = await sendBuyerMessage(t.db, { buyerId, listingId, body: 'hello' });
          await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [member]); // listing and conversation → handler

          const failure = (what: string) => (e: unknown) => `${what} failed: ${(e as { code?: string }).code} ${(e as Error).message}`;
          const reactivation = await pool(0).pool.connect();
          const reader = await pool(3).pool.connect();
          const sellerReader = await pool(4).pool.connect();
          try {
            // 1. The member is reactivated with restore: the conversation moves back to them (row-locked until commit).
            await reactivation.query('BEGIN');
            await reactivation.query(`SET LOCAL ems.restore_listings = 'on'`);
            await reactivation.query(`UPDATE sellers SET member_status = 'active' WHERE id = $1`, [member]);
            // 2. The marketplace's code locks the conversation too (say, to mark it read): first in line.
            await reader.query('BEGIN');
            const read = reader.query('SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [conversationId]);
            await waitForLockWaiters(1);
            // 3. A buyer message locks the handler (the owner it sees) and queues for the conversation.
            const message = pool(1)
              .query(`INSERT INTO messages (conversation_id, sender_type, sender_id, body) VALUES ($1, 'buyer', $2, 'race') RETURNING id`, [conversationId, buyerId])
              .then(() => 'ok', failure('message'));
            await waitForLockWaiters(2);
            // 4. Some code reads the member's row FOR SHARE (first in line), then a removal of the member queues.
            await sellerReader.query('BEGIN');
            const share = sellerReader.query('SELECT 1 FROM sellers WHERE id = $1 FOR SHARE', [member]);
            await waitForLockWaiters(3);
            const removal = pool(2)
              .transaction((tx) => tx.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [member]))
              .then(() => 'ok', failure('removal'));
            await waitForLockWaiters(4);
            // 5. The reactivation commits: the readers get their rows; the message waits for the
            //    conversation's reader, the removal for the member's reader.
            await reactivation.query('COMMIT');
            await Promise.all([read, share]);
            // (The message locks the listing's recipient — now the member — and the listing before the
            // conversation, so it never waits for a seller while holding the conversation: it holds the
            // member's row FOR SHARE and waits for the conversation's reader, or queues behind the removal.)
            await waitUntil(async () => (await blockersOf('ems-race-2')).length > 0);
            // 6. The member's reader commits: the removal locks the member's row (once the message, if it
            //    holds it, is done), moves the listing, and comes to wait for the conversation.
            await sellerReader.query('COMMIT');
            // 7. The conversation's reader commits: the message gets the conversation, finds it moved to
            //    the member, and routes again — while the removal holds the member's row.
            await reader.query('COMMIT');
            outcomes.push(`${await message} / ${await removal}`);
          } finally {
            reactivation.release();
            reader.release();
            sellerReader.release();
          }
          await expectConsistent(companyId);
        }
        expect(outcomes.filter((o) => o !== 'ok / ok')).toEqual([]);
      });
    });
  });
}
