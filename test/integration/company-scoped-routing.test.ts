/**
 * Company-scoped routing (README: How routing works), classes 1 to 9:
 * a listing's messages go to a *valid holder*, an active seller of the listing's company
 * (or, for an independent listing, its own seller), on every path: plain SQL as the
 * marketplace's code writes it, and the API's domain services.
 *
 * Every test runs on a fresh copy of a migrated database, and after every test the
 * company-scoped invariant (COMPANY_SCOPED_INVARIANT_SQL, test/helpers/routing-checks.ts) is
 * asserted on the whole database, so each test also proves the invariant holds after everything
 * it did.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PgDatabase } from '../../functions/database/pg-adapter';
import type { Database, Row } from '../../functions/database/port';
import type { IdType } from '../../functions/shared/config';
import { reactivateMember, removeMember, transferListing } from '../../functions/domain/company-members';
import { sendBuyerMessage } from '../../functions/domain/messaging';
import { migrateToLatest, ROUTING_ID_TYPES, type TestDatabase } from '../helpers/database';
import * as m from '../helpers/marketplace';
import { COMPANY_SCOPED_INVARIANT_SQL, observingDeadlocks, ownershipChainProblems, refusalCode } from '../helpers/routing-checks';
import { createTemplateDatabase, type TemplateDatabase } from '../helpers/template-database';

/* ------------------------------------------------------------------ */
/* One migrated database per test                                      */
/* ------------------------------------------------------------------ */

let template: TemplateDatabase;
let t: TestDatabase;
const sessions: PgDatabase[] = [];
const clients: pg.Client[] = [];

/** Registers, in the enclosing describe, a fresh copy of a database migrated with `idType` ids for each test. */
function aMigratedDatabasePerTest(idType: IdType): void {
  beforeAll(async () => {
    template = await createTemplateDatabase(async (url) => {
      await migrateToLatest(url, idType);
    });
  });
  afterAll(async () => template?.drop());

  beforeEach(async () => {
    t = await template.copy();
  });

  afterEach(async () => {
    try {
      // Whatever a test left open is ended first (rolled back if uncommitted).
      await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
      await Promise.all(sessions.splice(0).map((s) => s.close().catch(() => undefined)));
      expect(await t.db.query(COMPANY_SCOPED_INVARIANT_SQL), 'company-scoped invariant after the test').toEqual([]);
    } finally {
      await t.drop();
    }
  });
}

/** A separate pool of connections, named so pg_stat_activity can tell whether it waits. */
function session(applicationName: string): PgDatabase {
  const db = new PgDatabase(t.url, { max: 2, applicationName });
  sessions.push(db);
  return db;
}

async function client(applicationName: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: t.url, application_name: applicationName });
  await c.connect();
  clients.push(c);
  return c;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until a session named `applicationName` waits for a lock. Fails (naming `what`) if
 * `work` settles before: it finished without waiting for the transaction held open.
 */
async function waitsForLock(applicationName: string, work: Promise<unknown>, what: string): Promise<void> {
  let settled = false;
  work.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let attempt = 0; attempt < 2000; attempt += 1) {
    const [row] = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = $1 AND wait_event_type = 'Lock'`,
      [applicationName],
    );
    if (row!.n > 0) return;
    if (settled) throw new Error(`${what} finished without waiting for the open transaction`);
    await sleep(5);
  }
  throw new Error(`${what} never came to wait for a lock`);
}

/** Waits until a session named `applicationName` waits for a lock or `work` settled (either is fine). */
async function waitsOrSettles(applicationName: string, work: Promise<unknown>): Promise<void> {
  let settled = false;
  work.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let attempt = 0; attempt < 2000 && !settled; attempt += 1) {
    const [row] = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = $1 AND wait_event_type = 'Lock'`,
      [applicationName],
    );
    if (row!.n > 0) return;
    await sleep(5);
  }
}

/* ------------------------------------------------------------------ */
/* Scenes and readers                                                  */
/* ------------------------------------------------------------------ */

const ACTOR = 'owner@test';

interface Dealership {
  companyId: string;
  owner: string;
  admin: string | null;
  handler: string | null;
  member: string;
}

/** A company: owner (oldest), optionally an admin and a message handler (priority 10), and a plain member. */
async function dealership(options: { admin?: boolean; handler?: boolean } = {}): Promise<Dealership> {
  const companyId = await m.company(t.db);
  const owner = await m.seller(t.db, companyId, 'owner', { createdAt: '2020-01-01' });
  const admin = options.admin === false ? null : await m.seller(t.db, companyId, 'admin', { createdAt: '2020-02-01' });
  const handler = options.handler === false ? null : await m.seller(t.db, companyId, 'member', { createdAt: '2020-03-01' });
  if (handler) await t.db.query('INSERT INTO company_message_handlers (company_id, seller_id, priority) VALUES ($1, $2, 10)', [companyId, handler]);
  const member = await m.seller(t.db, companyId, 'member');
  return { companyId, owner, admin, handler, member };
}

/** A second company with its owner only (its fallback is that owner). */
async function otherCompany(): Promise<{ companyId: string; owner: string }> {
  const companyId = await m.company(t.db);
  const owner = await m.seller(t.db, companyId, 'owner', { createdAt: '2020-01-01' });
  return { companyId, owner };
}

async function listingOf(listingId: string) {
  const [row] = await t.db.query<{ current_owner_id: string | null; current_owner_type: string; status: string; company_id: string | null; seller_id: string }>(
    'SELECT current_owner_id, current_owner_type, status, company_id, seller_id FROM listed_cars WHERE id = $1',
    [listingId],
  );
  return row!;
}

async function conversationOf(conversationId: string) {
  const [row] = await t.db.query<{ seller_id: string | null; status: string; listing_id: string }>(
    'SELECT seller_id, status, listing_id FROM conversations WHERE id = $1',
    [conversationId],
  );
  return row!;
}

async function sellerRow(sellerId: string) {
  const [row] = await t.db.query<{ company_id: string | null; role: string; member_status: string }>(
    'SELECT company_id, role, member_status FROM sellers WHERE id = $1',
    [sellerId],
  );
  return row;
}

async function closedConversation(listingId: string, buyerId: string): Promise<string> {
  const conversationId = await m.conversation(t.db, listingId, buyerId);
  await t.db.query(`UPDATE conversations SET status = 'closed' WHERE id = $1`, [conversationId]);
  return conversationId;
}

/** A buyer message the way the marketplace's own code stores it: a plain INSERT. */
async function plainBuyerMessage(db: Database, conversationId: string, buyerId: string, body = 'plain SQL message'): Promise<{ id: string; recipient_id: string | null }> {
  const [row] = await db.query<{ id: string; recipient_id: string | null }>(
    `INSERT INTO messages (conversation_id, sender_type, sender_id, body) VALUES ($1, 'buyer', $2, $3) RETURNING id, recipient_id`,
    [conversationId, buyerId, body],
  );
  return row!;
}

async function auditRows(sellerId: string) {
  return t.db.query<{
    action: string;
    company_id: string | null;
    listings_moved: number;
    listings_restored: number;
    conversations_moved: number;
    moved_to_seller_id: string | null;
  }>(
    `SELECT action, company_id, listings_moved, listings_restored, conversations_moved, moved_to_seller_id
       FROM company_member_audit WHERE seller_id = $1 ORDER BY id`,
    [sellerId],
  );
}

async function logOf(conversationId: string) {
  return t.db.query<{ previous_owner_id: string | null; new_owner_id: string | null; reason: string }>(
    'SELECT previous_owner_id, new_owner_id, reason FROM conversation_ownership_log WHERE conversation_id = $1 ORDER BY id',
    [conversationId],
  );
}

async function removalsLast30Days(companyId: string): Promise<number> {
  const [row] = await t.db.query<{ removals_last_30_days: number }>('SELECT removals_last_30_days FROM get_member_statistics($1)', [companyId]);
  return Number(row?.removals_last_30_days ?? 0);
}

/** Is the conversation held by a valid holder of its listing (README: How routing works)? */
async function conversationHolderIsValid(conversationId: string): Promise<{ seller_id: string | null; valid: boolean }> {
  const [row] = await t.db.query<{ seller_id: string | null; valid: boolean }>(
    `SELECT c.seller_id,
            coalesce(s.member_status = 'active'
                     AND CASE WHEN l.company_id IS NULL THEN s.id = l.seller_id ELSE s.company_id = l.company_id END, false) AS valid
       FROM conversations c JOIN listed_cars l ON l.id = c.listing_id LEFT JOIN sellers s ON s.id = c.seller_id
      WHERE c.id = $1`,
    [conversationId],
  );
  return row!;
}

/** Everything a refused statement must leave as it was. */
async function stateOf(...companyIds: string[]): Promise<Row> {
  const [sellers, listings, conversations, handlers, audit, log] = await Promise.all([
    t.db.query('SELECT id, company_id, role, member_status FROM sellers WHERE company_id = ANY($1::ems_company_id[]) ORDER BY id', [companyIds]),
    t.db.query('SELECT id, status, current_owner_id, current_owner_type, seller_id, company_id FROM listed_cars WHERE company_id = ANY($1::ems_company_id[]) ORDER BY id', [companyIds]),
    t.db.query(
      'SELECT c.id, c.seller_id, c.status FROM conversations c JOIN listed_cars l ON l.id = c.listing_id WHERE l.company_id = ANY($1::ems_company_id[]) ORDER BY c.id',
      [companyIds],
    ),
    t.db.query('SELECT company_id, seller_id, is_active FROM company_message_handlers WHERE company_id = ANY($1::ems_company_id[]) ORDER BY id', [companyIds]),
    t.db.query('SELECT count(*)::int AS n FROM company_member_audit'),
    t.db.query('SELECT count(*)::int AS n FROM conversation_ownership_log'),
  ]);
  return { sellers, listings, conversations, handlers, audit, log };
}

/** The error a statement was refused with (fails the test if it went through). */
async function refusedWith(work: Promise<unknown>, what: string): Promise<{ code?: string; detail?: string; message: string }> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e as { code?: string; detail?: string; message: string },
  );
  expect(error, `${what} must be refused`).toBeDefined();
  return error!;
}

async function expectLastAdminRefusal(work: Promise<unknown>, what: string) {
  const error = await refusedWith(work, what);
  expect({ code: error.code, detail: error.detail, message: error.message }, what).toMatchObject({
    code: 'P0001',
    detail: 'ems:last_admin',
    message: expect.stringMatching(/last active owner or admin/),
  });
  expect(refusalCode(error)).toBe('last_admin');
}

for (const idType of ROUTING_ID_TYPES) {
  describe(`on ${idType} ids`, () => {
    aMigratedDatabasePerTest(idType);

    /* ------------------------------------------------------------------ */
    /* 1. Company change of an active member                               */
    /* ------------------------------------------------------------------ */

    describe('1. company change of an active member (UPDATE sellers SET company_id)', () => {
      it("moving to another company leaves the old company's active listings and open conversations with the old company's fallback; one 'left_company' audit row with counts; log reason member_left_company", async () => {
        const a = await dealership();
        const b = await otherCompany();
        const active1 = await m.listing(t.db, a.member, a.companyId);
        const active2 = await m.listing(t.db, a.member, a.companyId);
        const sold = await m.listing(t.db, a.member, a.companyId, 'sold');
        const open1 = await m.conversation(t.db, active1, await m.buyer(t.db));
        const open2 = await m.conversation(t.db, active2, await m.buyer(t.db));

        await t.db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [a.member, b.companyId]);

        for (const listingId of [active1, active2]) {
          expect(await listingOf(listingId)).toMatchObject({ current_owner_id: a.handler, current_owner_type: 'company_handler', status: 'active' });
        }
        expect(await listingOf(sold)).toMatchObject({ status: 'sold' }); // not an active listing: not counted
        expect((await conversationOf(open1)).seller_id).toBe(a.handler);
        expect((await conversationOf(open2)).seller_id).toBe(a.handler);
        expect(await auditRows(a.member)).toEqual([
          {
            action: 'left_company',
            company_id: a.companyId,
            listings_moved: 2,
            listings_restored: 0,
            conversations_moved: 2,
            moved_to_seller_id: a.handler,
          },
        ]);
        for (const conversationId of [open1, open2]) {
          expect(await logOf(conversationId)).toEqual([
            { previous_owner_id: null, new_owner_id: a.member, reason: 'conversation_started' },
            { previous_owner_id: a.member, new_owner_id: a.handler, reason: 'member_left_company' },
          ]);
        }
        expect(await ownershipChainProblems(t.db, a.companyId)).toEqual([]);
      });

      it("leaving for no company (company_id = NULL) is the same: the old company's fallback holds, audited 'left_company' naming it", async () => {
        const a = await dealership({ handler: false });
        const listingId = await m.listing(t.db, a.member, a.companyId);
        const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db));

        await t.db.query('UPDATE sellers SET company_id = NULL WHERE id = $1', [a.member]);

        expect(await listingOf(listingId)).toMatchObject({ current_owner_id: a.admin, current_owner_type: 'company_admin', status: 'active' });
        expect((await conversationOf(conversationId)).seller_id).toBe(a.admin);
        expect(await auditRows(a.member)).toEqual([
          expect.objectContaining({ action: 'left_company', company_id: a.companyId, listings_moved: 1, conversations_moved: 1, moved_to_seller_id: a.admin }),
        ]);
        expect((await logOf(conversationId)).at(-1)).toEqual({ previous_owner_id: a.member, new_owner_id: a.admin, reason: 'member_left_company' });
      });

      it("a draft of the old company put live afterwards (plain UPDATE status = 'active') goes to the old company's fallback, not the mover", async () => {
        const a = await dealership();
        const b = await otherCompany();
        const draft = await m.listing(t.db, a.member, a.companyId, 'draft');

        await t.db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [a.member, b.companyId]);
        await t.db.query(`UPDATE listed_cars SET status = 'active' WHERE id = $1`, [draft]);

        expect(await listingOf(draft)).toMatchObject({ current_owner_id: a.handler, current_owner_type: 'company_handler', status: 'active' });
        expect(await m.recipientOf(t.db, draft)).toMatchObject({ recipient_id: a.handler, company_id: a.companyId });
      });

      for (const path of ['sendBuyerMessage', 'plain INSERT INTO messages'] as const) {
        it(`a buyer writing again (${path}) in a closed conversation about the old company's listing held by the mover reaches the old company's recipient, never the mover`, async () => {
          const a = await dealership();
          const b = await otherCompany();
          const listingId = await m.listing(t.db, a.member, a.companyId);
          const buyerId = await m.buyer(t.db);
          const conversationId = await closedConversation(listingId, buyerId); // held by the member, closed
          await t.db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [a.member, b.companyId]);
          expect((await conversationOf(conversationId)).seller_id).toBe(a.member); // closed: not moved by the company change

          const recipient = (await m.recipientOf(t.db, listingId))!;
          expect(recipient).toMatchObject({ recipient_id: a.handler, company_id: a.companyId });
          let storedFor: string | null;
          if (path === 'sendBuyerMessage') {
            const sent = await sendBuyerMessage(t.db, { buyerId, listingId, body: 'Still for sale?' });
            expect(sent).toMatchObject({ conversationId, conversationReopened: true });
            storedFor = String(sent.recipient.id);
          } else {
            storedFor = (await plainBuyerMessage(t.db, conversationId, buyerId)).recipient_id;
          }

          // Compared as text: node-postgres reads an integer id as a number.
          expect(String(storedFor)).toBe(String(a.handler));
          expect(String(storedFor)).not.toBe(String(a.member));
          expect(await conversationOf(conversationId)).toMatchObject({ seller_id: a.handler, status: 'open' });
          expect((await logOf(conversationId)).at(-1)).toMatchObject({ previous_owner_id: a.member, new_owner_id: a.handler });
          expect(await ownershipChainProblems(t.db, a.companyId)).toEqual([]);
        });
      }

      for (const path of ['plain SQL', 'removeMember'] as const) {
        it(`removing the mover later from the new company (${path}) never touches the old company's listings`, async () => {
          const a = await dealership();
          const b = await otherCompany();
          const listingA = await m.listing(t.db, a.member, a.companyId);
          const draftA = await m.listing(t.db, a.member, a.companyId, 'draft');
          const buyerId = await m.buyer(t.db);
          const closedA = await closedConversation(listingA, buyerId);
          await t.db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [a.member, b.companyId]);
          await t.db.query(`UPDATE listed_cars SET status = 'active' WHERE id = $1`, [draftA]); // A's draft put live after the move
          const listingB = await m.listing(t.db, a.member, b.companyId);
          const openB = await m.conversation(t.db, listingB, await m.buyer(t.db));
          const beforeRemoval = await t.db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM conversation_ownership_log g JOIN listed_cars l ON l.id = g.listing_id WHERE l.company_id = $1`,
            [a.companyId],
          );

          if (path === 'plain SQL') await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [a.member]);
          else await removeMember(t.db, { companyId: b.companyId, sellerId: a.member, actor: ACTOR, reason: 'left' });

          for (const listingId of [listingA, draftA]) {
            expect(await listingOf(listingId)).toMatchObject({ current_owner_id: a.handler, current_owner_type: 'company_handler', status: 'active' });
          }
          expect(await listingOf(listingB)).toMatchObject({ current_owner_id: b.owner, current_owner_type: 'company_owner', status: 'active' });
          expect((await conversationOf(openB)).seller_id).toBe(b.owner);
          const removal = (await auditRows(a.member)).filter((r) => r.action === 'removed');
          expect(removal).toEqual([expect.objectContaining({ company_id: b.companyId, listings_moved: 1, conversations_moved: 1, moved_to_seller_id: b.owner })]);
          // The removal logged nothing about A's conversations.
          expect(
            await t.db.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM conversation_ownership_log g JOIN listed_cars l ON l.id = g.listing_id WHERE l.company_id = $1`,
              [a.companyId],
            ),
          ).toEqual(beforeRemoval);
          // The old company's buyer still reaches the old company.
          const sent = await sendBuyerMessage(t.db, { buyerId, listingId: listingA, body: 'Hello again' });
          expect(sent).toMatchObject({ conversationId: closedA, recipient: { id: a.handler } });
        });
      }

      it('their own independent listings (company_id NULL) and their conversations stay theirs', async () => {
        const a = await dealership();
        const b = await otherCompany();
        const independent = await m.listing(t.db, a.member, null);
        const conversationId = await m.conversation(t.db, independent, await m.buyer(t.db));

        await t.db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [a.member, b.companyId]);

        expect(await listingOf(independent)).toMatchObject({ current_owner_id: a.member, current_owner_type: 'seller', status: 'active' });
        expect((await conversationOf(conversationId)).seller_id).toBe(a.member);
        expect(await m.recipientOf(t.db, independent)).toMatchObject({ recipient_id: a.member, routing_reason: 'owner_active' });
      });

      it("the recipient of a company member's independent listing names the listing's company (NULL), not the seller's", async () => {
        const a = await dealership();
        const independent = await m.listing(t.db, a.member, null);
        expect(await m.recipientOf(t.db, independent)).toMatchObject({ recipient_id: a.member, routing_reason: 'owner_active', company_id: null });
      });

      it('with nobody left in the old company, its listings are parked and its conversations unassigned; the audit row names nobody', async () => {
        const companyId = await m.company(t.db);
        const member = await m.seller(t.db, companyId, 'member');
        const b = await otherCompany();
        const listingId = await m.listing(t.db, member, companyId);
        const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db));

        await t.db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [member, b.companyId]);

        expect(await listingOf(listingId)).toMatchObject({ current_owner_id: null, current_owner_type: 'unassigned', status: 'pending_reassignment' });
        expect((await conversationOf(conversationId)).seller_id).toBeNull();
        expect(await auditRows(member)).toEqual([
          expect.objectContaining({ action: 'left_company', company_id: companyId, listings_moved: 1, conversations_moved: 1, moved_to_seller_id: null }),
        ]);
      });
    });

    /* ------------------------------------------------------------------ */
    /* 2. Reactivation restores only the current company's listings        */
    /* ------------------------------------------------------------------ */

    describe("2. reactivation restores only listings of the member's current company", () => {
      for (const path of ['reactivateMember', 'plain SQL with ems.restore_listings = on'] as const) {
        it(`a member who moved to B and is reactivated by B with restore (${path}) gets back B's listings only; A's stay with A's fallback`, async () => {
          const a = await dealership();
          const b = await otherCompany();
          const listingA = await m.listing(t.db, a.member, a.companyId);
          await t.db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [a.member, b.companyId]);
          const listingB = await m.listing(t.db, a.member, b.companyId);
          await removeMember(t.db, { companyId: b.companyId, sellerId: a.member, actor: ACTOR, reason: 'test' });
          expect(await listingOf(listingB)).toMatchObject({ current_owner_id: b.owner });

          if (path === 'reactivateMember') {
            const summary = await reactivateMember(t.db, { companyId: b.companyId, sellerId: a.member, actor: ACTOR, restoreListings: true });
            expect(summary).toMatchObject({ status: 'active', listingsRestored: 1 });
          } else {
            await t.db.transaction(async (tx) => {
              await tx.query(`SET LOCAL ems.restore_listings = on`);
              await tx.query(`UPDATE sellers SET member_status = 'active' WHERE id = $1`, [a.member]);
            });
            expect((await auditRows(a.member)).at(-1)).toMatchObject({ action: 'reactivated', listings_restored: 1 });
          }

          expect(await listingOf(listingB)).toMatchObject({ current_owner_id: a.member, current_owner_type: 'seller', status: 'active' });
          expect(await listingOf(listingA)).toMatchObject({ current_owner_id: a.handler, current_owner_type: 'company_handler', status: 'active' });
        });
      }

      it("a member removed from A, moved to B while removed, and reactivated by B's owner with restoreListings gets listingsRestored = 0 for A's listings", async () => {
        const a = await dealership();
        const b = await otherCompany();
        const listingA = await m.listing(t.db, a.member, a.companyId);
        const conversationId = await m.conversation(t.db, listingA, await m.buyer(t.db));
        await removeMember(t.db, { companyId: a.companyId, sellerId: a.member, actor: ACTOR, reason: 'left' });
        await t.db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [a.member, b.companyId]);

        const summary = await reactivateMember(t.db, { companyId: b.companyId, sellerId: a.member, actor: ACTOR, restoreListings: true });

        expect(summary).toMatchObject({ status: 'active', listingsRestored: 0, conversationsRestored: 0 });
        expect(await listingOf(listingA)).toMatchObject({ current_owner_id: a.handler, current_owner_type: 'company_handler' });
        expect((await conversationOf(conversationId)).seller_id).toBe(a.handler);
      });

      it('a member without a company reactivated with ems.restore_listings = on gets back their independent listings, not the company listings they left', async () => {
        const a = await dealership();
        const listingA = await m.listing(t.db, a.member, a.companyId);
        const independent = await m.listing(t.db, a.member, null);

        await t.db.query(`UPDATE sellers SET member_status = 'removed', company_id = NULL WHERE id = $1`, [a.member]);
        expect(await listingOf(listingA)).toMatchObject({ current_owner_id: a.handler, status: 'active' });
        // Only its own seller may hold an independent listing: with them removed, nobody can.
        expect(await listingOf(independent)).toMatchObject({ current_owner_id: null, current_owner_type: 'unassigned', status: 'pending_reassignment' });

        await t.db.transaction(async (tx) => {
          await tx.query(`SET LOCAL ems.restore_listings = on`);
          await tx.query(`UPDATE sellers SET member_status = 'active' WHERE id = $1`, [a.member]);
        });

        expect(await listingOf(independent)).toMatchObject({ current_owner_id: a.member, current_owner_type: 'seller', status: 'active' });
        expect(await listingOf(listingA)).toMatchObject({ current_owner_id: a.handler, current_owner_type: 'company_handler', status: 'active' });
        expect((await auditRows(a.member)).at(-1)).toMatchObject({ action: 'reactivated', listings_restored: 1 });
      });

      it("a member back in A (moved away and back) is still restored A's listings by A", async () => {
        const a = await dealership();
        const b = await otherCompany();
        const listingA = await m.listing(t.db, a.member, a.companyId);
        await t.db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [a.member, b.companyId]);
        await t.db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [a.member, a.companyId]);
        await removeMember(t.db, { companyId: a.companyId, sellerId: a.member, actor: ACTOR, reason: 'test' });

        const summary = await reactivateMember(t.db, { companyId: a.companyId, sellerId: a.member, actor: ACTOR, restoreListings: true });

        expect(summary).toMatchObject({ listingsRestored: 1 });
        expect(await listingOf(listingA)).toMatchObject({ current_owner_id: a.member, current_owner_type: 'seller' });
      });
    });

    /* ------------------------------------------------------------------ */
    /* 3. A removal whose fallback is concurrently moved to another company */
    /* ------------------------------------------------------------------ */

    describe('3. a hand-over whose fallback is concurrently moved to another company', () => {
      /**
       * A: owner, admin, a handler (the fallback), a member with an active listing and an open
       * conversation. T1 moves the handler to B and stays open; T2 (on its own connection) does
       * something that needs A's fallback and must wait; T1 commits; T2 finishes.
       */
      async function scene() {
        const a = await dealership();
        const b = await otherCompany();
        const listingId = await m.listing(t.db, a.member, a.companyId);
        const openId = await m.conversation(t.db, listingId, await m.buyer(t.db));
        return { a, b, listingId, openId };
      }

      async function withFallbackMoving(a: Dealership, b: { companyId: string }, t2: (db: PgDatabase) => Promise<unknown>, what: string) {
        const t1 = await client('ems-t1');
        await t1.query('BEGIN');
        await t1.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [a.handler, b.companyId]);
        const running = t2(session('ems-t2'));
        const outcome = running.then(
          (value) => ({ ok: true as const, value }),
          (error: unknown) => ({ ok: false as const, error }),
        );
        try {
          await waitsForLock('ems-t2', running, what);
        } finally {
          await t1.query('COMMIT');
        }
        const settled = await outcome;
        if (!settled.ok) throw settled.error;
        return settled.value;
      }

      for (const path of ['plain SQL', 'removeMember'] as const) {
        it(`a removal (${path}) waits for the fallback's company move, then hands over to someone of A, never to the person who left`, async () => {
          const { a, b, listingId, openId } = await scene();
          await withFallbackMoving(
            a,
            b,
            (db) =>
              path === 'plain SQL'
                ? db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [a.member])
                : removeMember(db, { companyId: a.companyId, sellerId: a.member, actor: ACTOR, reason: 'race' }),
            `the removal (${path})`,
          );

          expect((await sellerRow(a.handler!))!.company_id).toBe(b.companyId);
          const listing = await listingOf(listingId);
          expect(listing.current_owner_id).not.toBe(a.handler);
          expect(listing).toMatchObject({ current_owner_id: a.admin, current_owner_type: 'company_admin', status: 'active' });
          expect((await conversationOf(openId)).seller_id).toBe(a.admin);
          expect((await auditRows(a.member)).filter((r) => r.action === 'removed')).toEqual([
            expect.objectContaining({ company_id: a.companyId, listings_moved: 1, conversations_moved: 1, moved_to_seller_id: a.admin }),
          ]);
        });
      }

      it("a removed member's draft put live while the fallback moves away goes to someone of A", async () => {
        const { a, b } = await scene();
        const draft = await m.listing(t.db, a.member, a.companyId, 'draft');
        await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [a.member]);

        await withFallbackMoving(a, b, (db) => db.query(`UPDATE listed_cars SET status = 'active' WHERE id = $1`, [draft]), 'putting the draft live');

        expect(await listingOf(draft)).toMatchObject({ current_owner_id: a.admin, current_owner_type: 'company_admin', status: 'active' });
      });

      for (const path of ['sendBuyerMessage', 'plain INSERT INTO messages'] as const) {
        it(`a buyer message (${path}) routed to the fallback that is moving away waits, then reaches someone of A`, async () => {
          const { a, b, listingId } = await scene();
          const buyerId = await m.buyer(t.db);
          const closedId = await closedConversation(listingId, buyerId); // held by the member, closed
          await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [a.member]);
          expect(await listingOf(listingId)).toMatchObject({ current_owner_id: a.handler });

          const recipient = await withFallbackMoving(
            a,
            b,
            async (db) =>
              path === 'sendBuyerMessage'
                ? (await sendBuyerMessage(db, { buyerId, listingId, body: 'Anyone there?' })).recipient.id
                : (await plainBuyerMessage(db, closedId, buyerId)).recipient_id,
            `the buyer message (${path})`,
          );

          expect(recipient).not.toBe(a.handler);
          expect(recipient).toBe(a.admin);
          expect(await conversationOf(closedId)).toMatchObject({ seller_id: a.admin, status: 'open' });
          expect(await listingOf(listingId)).toMatchObject({ current_owner_id: a.admin });
        });
      }
    });

    /* ------------------------------------------------------------------ */
    /* 4. Removal + company change in one statement                        */
    /* ------------------------------------------------------------------ */

    describe('4. removal and company change in one statement', () => {
      it("SET member_status = 'removed', company_id = NULL: the 'removed' audit row names the company left, which counts it in removals_last_30_days", async () => {
        const a = await dealership();
        const listingId = await m.listing(t.db, a.member, a.companyId);
        const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db));
        expect(await removalsLast30Days(a.companyId)).toBe(0);

        await t.db.query(`UPDATE sellers SET member_status = 'removed', company_id = NULL WHERE id = $1`, [a.member]);

        expect(await auditRows(a.member)).toEqual([
          expect.objectContaining({ action: 'removed', company_id: a.companyId, listings_moved: 1, conversations_moved: 1, moved_to_seller_id: a.handler }),
        ]);
        expect(await removalsLast30Days(a.companyId)).toBe(1);
        expect(await listingOf(listingId)).toMatchObject({ current_owner_id: a.handler, status: 'active' });
        expect((await conversationOf(conversationId)).seller_id).toBe(a.handler);
      });

      it("SET member_status = 'removed', company_id = <B>: audited for A (the company left), A's listings stay with A, B counts no removal", async () => {
        const a = await dealership();
        const b = await otherCompany();
        const listingId = await m.listing(t.db, a.member, a.companyId);

        await t.db.query(`UPDATE sellers SET member_status = 'removed', company_id = $2 WHERE id = $1`, [a.member, b.companyId]);

        expect(await auditRows(a.member)).toEqual([expect.objectContaining({ action: 'removed', company_id: a.companyId, listings_moved: 1, moved_to_seller_id: a.handler })]);
        expect(await removalsLast30Days(a.companyId)).toBe(1);
        expect(await removalsLast30Days(b.companyId)).toBe(0);
        expect(await listingOf(listingId)).toMatchObject({ current_owner_id: a.handler, current_owner_type: 'company_handler' });
      });

      it("a company change ('left_company' row) counts in the left company's removals_last_30_days, not in the new one's", async () => {
        const a = await dealership();
        const b = await otherCompany();
        await m.listing(t.db, a.member, a.companyId);

        await t.db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [a.member, b.companyId]);

        expect(await removalsLast30Days(a.companyId)).toBe(1);
        expect(await removalsLast30Days(b.companyId)).toBe(0);
      });
    });

    /* ------------------------------------------------------------------ */
    /* 5. Plain-SQL writes outside member_status                           */
    /* ------------------------------------------------------------------ */

    describe('5. plain-SQL writes that would hand a listing or conversation outside its company', () => {
      it("an active listing whose seller_id is set to another company's member is held by its company's fallback", async () => {
        const a = await dealership();
        const b = await otherCompany();
        const listingId = await m.listing(t.db, a.member, a.companyId);

        await t.db.query('UPDATE listed_cars SET seller_id = $2 WHERE id = $1', [listingId, b.owner]);

        expect(await listingOf(listingId)).toMatchObject({ current_owner_id: a.handler, current_owner_type: 'company_handler', status: 'active' });
        expect(await m.recipientOf(t.db, listingId)).toMatchObject({ recipient_id: a.handler, company_id: a.companyId });
      });

      it("an active listing whose current_owner_id is set to another company's member is held by its company's fallback", async () => {
        const a = await dealership();
        const b = await otherCompany();
        const listingId = await m.listing(t.db, a.member, a.companyId);

        await t.db.query(`UPDATE listed_cars SET current_owner_id = $2, current_owner_type = 'seller' WHERE id = $1`, [listingId, b.owner]);

        expect(await listingOf(listingId)).toMatchObject({ current_owner_id: a.handler, current_owner_type: 'company_handler' });
      });

      it("an active listing inserted for company A by another company's member is held by A's fallback", async () => {
        const a = await dealership();
        const b = await otherCompany();

        const listingId = await m.listing(t.db, b.owner, a.companyId);

        expect(await listingOf(listingId)).toMatchObject({ current_owner_id: a.handler, current_owner_type: 'company_handler', status: 'active' });
      });

      it("an active listing inserted with another company's member as current owner is held by its company's fallback", async () => {
        const a = await dealership();
        const b = await otherCompany();

        const [row] = await t.db.query<{ id: string }>(
          `INSERT INTO listed_cars (seller_id, company_id, make, model, year, price_cents, status, current_owner_id, current_owner_type)
           VALUES ($1, $2, 'Saab', '9-3', 2009, 900000, 'active', $3, 'seller') RETURNING id`,
          [a.member, a.companyId, b.owner],
        );

        expect(await listingOf(row!.id)).toMatchObject({ current_owner_id: a.handler, current_owner_type: 'company_handler', status: 'active' });
      });

      it("a listing moved to another company (UPDATE company_id) is held by the new company's fallback, and its open conversations follow, logged", async () => {
        const a = await dealership();
        const b = await otherCompany();
        const listingId = await m.listing(t.db, a.member, a.companyId);
        const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db));

        await t.db.query('UPDATE listed_cars SET company_id = $2 WHERE id = $1', [listingId, b.companyId]);

        expect(await listingOf(listingId)).toMatchObject({ company_id: b.companyId, current_owner_id: b.owner, current_owner_type: 'company_owner', status: 'active' });
        expect((await conversationOf(conversationId)).seller_id).toBe(b.owner);
        expect((await logOf(conversationId)).at(-1)).toMatchObject({ previous_owner_id: a.member, new_owner_id: b.owner });
        expect(await ownershipChainProblems(t.db, b.companyId)).toEqual([]);
      });

      it("nobody to receive: an active listing inserted for, or moved to, a company with nobody active is refused (P0001, DETAIL 'ems:no_recipient') and changes nothing", async () => {
        const a = await dealership();
        const empty = await m.company(t.db);
        const gone = await m.seller(t.db, empty, 'member');
        await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [gone]);
        const listingId = await m.listing(t.db, a.member, a.companyId);
        const before = await stateOf(a.companyId, empty);

        const inserted = await refusedWith(m.listing(t.db, a.member, empty), 'an active listing for a company nobody can receive for');
        expect(inserted).toMatchObject({ code: 'P0001', detail: 'ems:no_recipient' });
        const moved = await refusedWith(t.db.query('UPDATE listed_cars SET company_id = $2 WHERE id = $1', [listingId, empty]), 'moving an active listing to it');
        expect(moved).toMatchObject({ code: 'P0001', detail: 'ems:no_recipient' });

        expect(await stateOf(a.companyId, empty)).toEqual(before);
      });

      it("a conversation whose listing_id changes is held by the new listing's recipient, logged", async () => {
        const a = await dealership();
        const b = await otherCompany();
        const listingA = await m.listing(t.db, a.member, a.companyId);
        const listingB = await m.listing(t.db, b.owner, b.companyId);
        const conversationId = await m.conversation(t.db, listingA, await m.buyer(t.db));

        await t.db.query('UPDATE conversations SET listing_id = $2 WHERE id = $1', [conversationId, listingB]);

        const recipient = (await m.recipientOf(t.db, listingB))!;
        expect(recipient.recipient_id).toBe(b.owner);
        expect((await conversationOf(conversationId)).seller_id).toBe(recipient.recipient_id);
        expect((await logOf(conversationId)).at(-1)).toMatchObject({ new_owner_id: b.owner });
        expect(await ownershipChainProblems(t.db, b.companyId)).toEqual([]);
      });

      it("a conversation handed (UPDATE seller_id) to another company's member is held by its listing's recipient, logged", async () => {
        const a = await dealership();
        const b = await otherCompany();
        const listingId = await m.listing(t.db, a.member, a.companyId);
        const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db));

        await t.db.query('UPDATE conversations SET seller_id = $2 WHERE id = $1', [conversationId, b.owner]);

        expect((await conversationOf(conversationId)).seller_id).toBe(a.member);
        expect((await m.recipientOf(t.db, listingId))!.recipient_id).toBe(a.member);
        expect(await ownershipChainProblems(t.db, a.companyId)).toEqual([]);
      });

      it("an open conversation inserted with another company's member as its seller is held by its listing's recipient", async () => {
        const a = await dealership();
        const b = await otherCompany();
        const listingId = await m.listing(t.db, a.member, a.companyId);

        const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db), b.owner);

        expect((await conversationOf(conversationId)).seller_id).toBe(a.member);
        expect(await logOf(conversationId)).toEqual([{ previous_owner_id: null, new_owner_id: a.member, reason: 'conversation_started' }]);
      });

      it('a conversation handed to a valid colleague of the same company stays with them (control: valid hand-overs are not corrected)', async () => {
        const a = await dealership();
        const listingId = await m.listing(t.db, a.member, a.companyId);
        const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db));

        await t.db.query('UPDATE conversations SET seller_id = $2 WHERE id = $1', [conversationId, a.admin]);

        expect((await conversationOf(conversationId)).seller_id).toBe(a.admin);
        expect((await logOf(conversationId)).at(-1)).toEqual({ previous_owner_id: a.member, new_owner_id: a.admin, reason: 'manual_transfer' });
      });
    });

    /* ------------------------------------------------------------------ */
    /* 6. Lookup = delivery                                                */
    /* ------------------------------------------------------------------ */

    describe('6. lookup = delivery: a buyer message goes to exactly what get_listing_message_recipient names', () => {
      async function deliver(path: 'sendBuyerMessage' | 'plain INSERT INTO messages', listingId: string, conversationId: string, buyerId: string) {
        if (path === 'sendBuyerMessage') {
          const sent = await sendBuyerMessage(t.db, { buyerId, listingId, body: 'Can I see it tomorrow?' });
          expect(sent.conversationId).toBe(conversationId);
          return sent.recipient.id;
        }
        return (await plainBuyerMessage(t.db, conversationId, buyerId)).recipient_id;
      }

      for (const path of ['sendBuyerMessage', 'plain INSERT INTO messages'] as const) {
        it(`a closed conversation held by an earlier holder (still active, same company) is reopened with the listing's recipient (${path}), logged`, async () => {
          const a = await dealership();
          const colleague = await m.seller(t.db, a.companyId, 'member');
          const listingId = await m.listing(t.db, a.member, a.companyId);
          const buyerId = await m.buyer(t.db);
          const conversationId = await closedConversation(listingId, buyerId);
          await transferListing(t.db, { companyId: a.companyId, listingId, toSellerId: colleague, actor: ACTOR });
          expect((await conversationOf(conversationId)).seller_id).toBe(a.member); // closed: the transfer left it

          const recipient = (await m.recipientOf(t.db, listingId))!;
          expect(recipient).toMatchObject({ recipient_id: colleague, routing_reason: 'owner_active' });
          const storedFor = await deliver(path, listingId, conversationId, buyerId);

          expect(storedFor).toBe(recipient.recipient_id);
          expect(await conversationOf(conversationId)).toMatchObject({ seller_id: colleague, status: 'open' });
          expect((await logOf(conversationId)).at(-1)).toMatchObject({ previous_owner_id: a.member, new_owner_id: colleague });
          expect(await ownershipChainProblems(t.db, a.companyId)).toEqual([]);
        });

        it(`an open conversation left with an earlier holder by a plain-SQL hand-over of the listing follows the listing's recipient (${path})`, async () => {
          const a = await dealership();
          const colleague = await m.seller(t.db, a.companyId, 'member');
          const listingId = await m.listing(t.db, a.member, a.companyId);
          const buyerId = await m.buyer(t.db);
          const conversationId = await m.conversation(t.db, listingId, buyerId);
          await t.db.query('UPDATE listed_cars SET seller_id = $2 WHERE id = $1', [listingId, colleague]);

          const recipient = (await m.recipientOf(t.db, listingId))!;
          expect(recipient.recipient_id).toBe(colleague);
          const storedFor = await deliver(path, listingId, conversationId, buyerId);

          expect(storedFor).toBe(recipient.recipient_id);
          expect((await conversationOf(conversationId)).seller_id).toBe(colleague);
          expect(await ownershipChainProblems(t.db, a.companyId)).toEqual([]);
        });
      }

      it("a closed conversation held by a removed member reaches the fallback holding the listing (control: today's behaviour)", async () => {
        const a = await dealership();
        const listingId = await m.listing(t.db, a.member, a.companyId);
        const buyerId = await m.buyer(t.db);
        const conversationId = await closedConversation(listingId, buyerId);
        await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [a.member]);

        const storedFor = await deliver('sendBuyerMessage', listingId, conversationId, buyerId);

        expect(storedFor).toBe((await m.recipientOf(t.db, listingId))!.recipient_id);
        expect(storedFor).toBe(a.handler);
      });
    });

    /* ------------------------------------------------------------------ */
    /* 7. The last owner/admin rule on every path                          */
    /* ------------------------------------------------------------------ */

    describe('7. the last active owner/admin rule', () => {
      /** A company whose only owner/admin is its owner (no admin, no handler). */
      async function soloOwner() {
        const d = await dealership({ admin: false, handler: false });
        const b = await otherCompany();
        return { ...d, other: b.companyId };
      }

      it('DELETE FROM sellers of the last active owner/admin is refused and changes nothing', async () => {
        const d = await soloOwner();
        const before = await stateOf(d.companyId, d.other);
        await expectLastAdminRefusal(t.db.query('DELETE FROM sellers WHERE id = $1', [d.owner]), 'deleting the last owner');
        expect(await stateOf(d.companyId, d.other)).toEqual(before);
      });

      it('DELETE of the last active owner/admin who holds listings is refused as last_admin (not by a foreign key) and changes nothing', async () => {
        const d = await soloOwner();
        const listingId = await m.listing(t.db, d.owner, d.companyId);
        await m.conversation(t.db, listingId, await m.buyer(t.db));
        const before = await stateOf(d.companyId, d.other);
        await expectLastAdminRefusal(t.db.query('DELETE FROM sellers WHERE id = $1', [d.owner]), 'deleting the last owner holding a listing');
        expect(await stateOf(d.companyId, d.other)).toEqual(before);
      });

      it("UPDATE sellers SET role = 'member' of the last active owner/admin is refused and changes nothing", async () => {
        const d = await soloOwner();
        const before = await stateOf(d.companyId, d.other);
        await expectLastAdminRefusal(t.db.query(`UPDATE sellers SET role = 'member' WHERE id = $1`, [d.owner]), 'demoting the last owner');
        expect(await stateOf(d.companyId, d.other)).toEqual(before);
      });

      for (const target of ['another company', 'no company'] as const) {
        it(`moving the last active owner/admin to ${target} is refused and changes nothing`, async () => {
          const d = await soloOwner();
          const listingId = await m.listing(t.db, d.owner, d.companyId);
          await m.conversation(t.db, listingId, await m.buyer(t.db));
          const before = await stateOf(d.companyId, d.other);
          await expectLastAdminRefusal(
            t.db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [d.owner, target === 'another company' ? d.other : null]),
            `moving the last owner to ${target}`,
          );
          expect(await stateOf(d.companyId, d.other)).toEqual(before);
        });
      }

      it('with an admin left, the owner can be demoted, or moved away (control: the rule refuses only the last one)', async () => {
        const d = await dealership({ handler: false });
        const b = await otherCompany();
        const listingId = await m.listing(t.db, d.owner, d.companyId);
        await t.db.query(`UPDATE sellers SET role = 'admin' WHERE id = $1`, [d.owner]);
        await t.db.query(`UPDATE sellers SET role = 'member' WHERE id = $1`, [d.owner]);
        expect((await sellerRow(d.owner))!.role).toBe('member');
        await t.db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [d.owner, b.companyId]);
        expect(await listingOf(listingId)).toMatchObject({ current_owner_id: d.admin, current_owner_type: 'company_admin' });
      });

      it("DELETE of a plain member who holds listings and conversations hands them to the fallback first ('member_removed'), drops their handler rows, and goes through", async () => {
        const d = await dealership({ handler: false });
        const holder = await m.seller(t.db, d.companyId, 'member');
        await t.db.query('INSERT INTO company_message_handlers (company_id, seller_id, priority) VALUES ($1, $2, 50)', [d.companyId, holder]);
        // Listed by the member (the lister of record stays), handed over to `holder` by the API.
        const listingId = await m.listing(t.db, d.member, d.companyId);
        const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db));
        await transferListing(t.db, { companyId: d.companyId, listingId, toSellerId: holder, actor: ACTOR });
        expect(await listingOf(listingId)).toMatchObject({ current_owner_id: holder });
        expect((await conversationOf(conversationId)).seller_id).toBe(holder);

        await t.db.query('DELETE FROM sellers WHERE id = $1', [holder]);

        expect(await sellerRow(holder)).toBeUndefined();
        expect(await listingOf(listingId)).toMatchObject({ current_owner_id: d.admin, current_owner_type: 'company_admin', status: 'active' });
        expect((await conversationOf(conversationId)).seller_id).toBe(d.admin);
        expect((await logOf(conversationId)).at(-1)).toEqual({ previous_owner_id: holder, new_owner_id: d.admin, reason: 'member_removed' });
        expect(await t.db.query('SELECT 1 FROM company_message_handlers WHERE seller_id = $1', [holder])).toEqual([]);
      });

      it("DELETE of a plain member the marketplace's foreign keys still need (lister of record) is refused by the key and changes nothing", async () => {
        const d = await dealership();
        const listingId = await m.listing(t.db, d.member, d.companyId);
        await m.conversation(t.db, listingId, await m.buyer(t.db));
        const before = await stateOf(d.companyId);
        const error = await refusedWith(t.db.query('DELETE FROM sellers WHERE id = $1', [d.member]), 'deleting the lister of record');
        expect(error.code).toBe('23503');
        expect(await stateOf(d.companyId)).toEqual(before);
      });
    });

    /* ------------------------------------------------------------------ */
    /* 8. Lock order                                                       */
    /* ------------------------------------------------------------------ */

    describe('8. lock order: the API follows the order of plain SQL (seller row, then company row)', () => {
      /** Counts the 40P01 errors a Database sees, retried ones included. */
      const counting = (inner: Database, seen: unknown[]): Database => observingDeadlocks(inner, (error) => seen.push(error));

      /**
       * Another session holds company `companyId`'s row, so an API call (one statement: it locks the
       * member's row first, then its trigger waits for the company row) stops right after its first lock.
       * `release()` commits that session.
       */
      async function holdingCompany(companyId: string) {
        const holder = await client('ems-company-holder');
        await holder.query('BEGIN');
        await holder.query('SELECT 1 FROM companies WHERE id = $1 FOR NO KEY UPDATE', [companyId]);
        return { release: () => holder.query('COMMIT') };
      }

      const settle = (work: Promise<unknown>) =>
        work.then(
          () => 'ok',
          (e: unknown) => refusalCode(e) ?? `${(e as { code?: string }).code ?? ''} ${(e as Error).message}`.trim(),
        );

      it('removeMember of an admin holding its first lock (the member row, waiting for the company row), and a plain-SQL removal of the same admin: no deadlock', async () => {
        const d = await dealership();
        const listingId = await m.listing(t.db, d.admin!, d.companyId);
        const deadlocks: unknown[] = [];
        const company = await holdingCompany(d.companyId);

        const viaApi = settle(removeMember(counting(session('ems-api'), deadlocks), { companyId: d.companyId, sellerId: d.admin!, actor: ACTOR, reason: 'lock order' }));
        await waitsOrSettles('ems-api', viaApi);
        const plain = session('ems-sql');
        const viaSql = settle(counting(plain, deadlocks).query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [d.admin]));
        await waitsOrSettles('ems-sql', viaSql);
        await company.release();

        const outcomes = { api: await viaApi, sql: await viaSql };
        expect(deadlocks, JSON.stringify(outcomes)).toEqual([]);
        expect(outcomes.sql).toBe('ok');
        expect(['ok', 'already_removed']).toContain(outcomes.api);
        expect((await sellerRow(d.admin!))!.member_status).toBe('removed');
        expect(await listingOf(listingId)).toMatchObject({ current_owner_id: d.handler });
      });

      it('reactivateMember of an admin holding its first lock, and a plain-SQL reactivation with restore of the same admin: no deadlock', async () => {
        const d = await dealership();
        const listingId = await m.listing(t.db, d.admin!, d.companyId);
        await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [d.admin]);
        const deadlocks: unknown[] = [];
        const company = await holdingCompany(d.companyId);

        const viaApi = settle(reactivateMember(counting(session('ems-api'), deadlocks), { companyId: d.companyId, sellerId: d.admin!, actor: ACTOR, restoreListings: true }));
        await waitsOrSettles('ems-api', viaApi);
        const viaSql = settle(
          counting(session('ems-sql'), deadlocks).transaction(async (tx) => {
            await tx.query(`SET LOCAL ems.restore_listings = on`);
            await tx.query(`UPDATE sellers SET member_status = 'active' WHERE id = $1`, [d.admin]);
          }),
        );
        await waitsOrSettles('ems-sql', viaSql);
        await company.release();

        const outcomes = { api: await viaApi, sql: await viaSql };
        expect(deadlocks, JSON.stringify(outcomes)).toEqual([]);
        expect(outcomes.sql).toBe('ok');
        expect(['ok', 'already_active']).toContain(outcomes.api);
        expect((await sellerRow(d.admin!))!.member_status).toBe('active');
        expect(await listingOf(listingId)).toMatchObject({ current_owner_id: d.admin });
      });

      it("removeMember in company B holding its first lock, and a plain-SQL move of A's admin into B: no deadlock", async () => {
        const a = await dealership();
        const b = await dealership();
        const listingB = await m.listing(t.db, b.member, b.companyId);
        const deadlocks: unknown[] = [];
        const company = await holdingCompany(b.companyId);

        const viaApi = settle(removeMember(counting(session('ems-api'), deadlocks), { companyId: b.companyId, sellerId: b.member, actor: ACTOR, reason: 'lock order' }));
        await waitsOrSettles('ems-api', viaApi);
        const viaSql = settle(counting(session('ems-sql'), deadlocks).query('UPDATE sellers SET company_id = $2 WHERE id = $1', [a.admin, b.companyId]));
        await waitsOrSettles('ems-sql', viaSql);
        await company.release();

        const outcomes = { api: await viaApi, sql: await viaSql };
        expect(deadlocks, JSON.stringify(outcomes)).toEqual([]);
        expect(outcomes).toEqual({ api: 'ok', sql: 'ok' });
        expect(await listingOf(listingB)).toMatchObject({ current_owner_id: b.handler });
      });
    });

    /* ------------------------------------------------------------------ */
    /* 9. No session setting turns a guard off                             */
    /* ------------------------------------------------------------------ */

    describe('9. no session setting turns a guard off', () => {
      const SETTINGS = [
        ['ems.bulk_move', 'on'],
        ['ems.bulk_move', 'true'],
        ['ems.transfer_reason', 'member_removed'],
        ['ems.restore_listings', 'on'],
      ] as const;

      /** Runs `statement` after SET LOCAL name = value; a refusal is acceptable, a result outside the company is not. */
      async function withSetting(name: string, value: string, statement: string, params: unknown[]) {
        const outcome = await t.db
          .transaction(async (tx) => {
            await tx.query(`SELECT set_config($1, $2, true)`, [name, value]);
            await tx.query(statement, params);
          })
          .then(
            () => undefined,
            (e: unknown) => e as { code?: string; detail?: string },
          );
        if (outcome) expect(outcome, `refused ${statement} under ${name} = ${value}`).toMatchObject({ code: 'P0001', detail: expect.stringMatching(/^ems:/) });
      }

      for (const [name, value] of SETTINGS) {
        it(`SET LOCAL ${name} = ${value}: UPDATE conversations SET seller_id = <a removed member> leaves it with a valid holder`, async () => {
          const a = await dealership();
          const listingId = await m.listing(t.db, a.admin!, a.companyId);
          const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db));
          await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [a.member]);

          await withSetting(name, value, 'UPDATE conversations SET seller_id = $2 WHERE id = $1', [conversationId, a.member]);

          const holder = await conversationHolderIsValid(conversationId);
          expect(holder.seller_id).not.toBe(a.member);
          expect(holder.valid).toBe(true);
          expect(await ownershipChainProblems(t.db, a.companyId)).toEqual([]);
        });

        it(`SET LOCAL ${name} = ${value}: UPDATE conversations SET seller_id = <another company's member> leaves it with a valid holder`, async () => {
          const a = await dealership();
          const b = await otherCompany();
          const listingId = await m.listing(t.db, a.member, a.companyId);
          const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db));

          await withSetting(name, value, 'UPDATE conversations SET seller_id = $2 WHERE id = $1', [conversationId, b.owner]);

          const holder = await conversationHolderIsValid(conversationId);
          expect(holder.seller_id).not.toBe(b.owner);
          expect(holder.valid).toBe(true);
        });
      }

      it('a session-wide SET ems.bulk_move = on (not LOCAL) on the connection does not let a plain UPDATE hand an open conversation to a removed member', async () => {
        const a = await dealership();
        const listingId = await m.listing(t.db, a.admin!, a.companyId);
        const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db));
        await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [a.member]);
        const c = await client('ems-bulk');
        await c.query(`SET ems.bulk_move = on`);

        await c.query('UPDATE conversations SET seller_id = $2 WHERE id = $1', [conversationId, a.member]).catch((e: { code?: string; detail?: string }) => {
          expect(e).toMatchObject({ code: 'P0001', detail: expect.stringMatching(/^ems:/) });
        });

        const holder = await conversationHolderIsValid(conversationId);
        expect(holder.seller_id).not.toBe(a.member);
        expect(holder.valid).toBe(true);
      });

      it('SET LOCAL ems.bulk_move = on: handing an active listing to a removed member or to another company\'s member leaves it with a valid holder', async () => {
        const a = await dealership();
        const b = await otherCompany();
        const listingId = await m.listing(t.db, a.admin!, a.companyId);
        await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [a.member]);

        for (const target of [a.member, b.owner]) {
          await withSetting('ems.bulk_move', 'on', `UPDATE listed_cars SET current_owner_id = $2, current_owner_type = 'seller' WHERE id = $1`, [listingId, target]);
          const listing = await listingOf(listingId);
          expect(listing.current_owner_id).not.toBe(target);
          expect(listing.status).toBe('active');
          expect((await sellerRow(listing.current_owner_id!))).toMatchObject({ company_id: a.companyId, member_status: 'active' });
        }
      });
    });
  });
}
