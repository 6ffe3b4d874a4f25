/**
 * Removal, reactivation and routing through the domain services, each case also
 * replayed with plain SQL (the marketplace's existing code path) to show both
 * paths have the same effect.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reactivateMember, removeMember, transferListing } from '../../functions/domain/company-members';
import { getCompanyStats, updateMessageHandlers } from '../../functions/domain/company';
import { ConflictError } from '../../functions/domain/errors';
import { getOwnershipHistory, sendBuyerMessage } from '../../functions/domain/messaging';
import type { Database } from '../../functions/database/port';
import { createMigratedDatabase, type TestDatabase } from '../helpers/database';
import * as m from '../helpers/marketplace';

let t: TestDatabase;
beforeAll(async () => {
  t = await createMigratedDatabase();
});
afterAll(async () => t?.drop());

const ACTOR = 'admin@test';

async function dealership(options: { handler?: boolean; admin?: boolean } = {}) {
  const companyId = await m.company(t.db);
  const owner = await m.seller(t.db, companyId, 'owner', { createdAt: '2020-01-01' });
  const admin = options.admin === false ? null : await m.seller(t.db, companyId, 'admin', { createdAt: '2020-02-01' });
  const handler = options.handler ? await m.seller(t.db, companyId, 'member', { createdAt: '2020-03-01' }) : null;
  if (handler) await t.db.query('INSERT INTO company_message_handlers (company_id, seller_id, priority) VALUES ($1, $2, 10)', [companyId, handler]);
  const member = await m.seller(t.db, companyId, 'member');
  return { companyId, owner, admin, handler, member };
}

type Remover = (db: Database, companyId: string, sellerId: string) => Promise<unknown>;
const viaService: Remover = (db, companyId, sellerId) => removeMember(db, { companyId, sellerId, actor: ACTOR, reason: 'left the company' });
const viaPlainSql: Remover = (db, _companyId, sellerId) =>
  db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [sellerId]);

async function ownerOf(listingId: string) {
  const [row] = await t.db.query<{ current_owner_id: string | null; current_owner_type: string; status: string }>(
    'SELECT current_owner_id, current_owner_type, status FROM listed_cars WHERE id = $1',
    [listingId],
  );
  return row!;
}

async function conversationOwner(conversationId: string) {
  const [row] = await t.db.query<{ seller_id: string | null }>('SELECT seller_id FROM conversations WHERE id = $1', [conversationId]);
  return row!.seller_id;
}

for (const [path, remove] of [
  ['service', viaService],
  ['plain SQL', viaPlainSql],
] as const) {
  describe(`removing a member (${path})`, () => {
    it('moves active listings and open conversations to the top handler, logs each conversation, audits once', async () => {
      const p = await dealership({ handler: true });
      const active = await m.listing(t.db, p.member, p.companyId);
      const sold = await m.listing(t.db, p.member, p.companyId, 'sold');
      const buyerId = await m.buyer(t.db);
      const open = await m.conversation(t.db, active, buyerId);
      const closed = await m.conversation(t.db, active, await m.buyer(t.db));
      await t.db.query(`UPDATE conversations SET status = 'closed' WHERE id = $1`, [closed]);

      await remove(t.db, p.companyId, p.member);

      expect(await ownerOf(active)).toEqual({ current_owner_id: p.handler, current_owner_type: 'company_handler', status: 'active' });
      expect(await ownerOf(sold)).toEqual({ current_owner_id: p.member, current_owner_type: 'seller', status: 'sold' });
      expect(await conversationOwner(open)).toBe(p.handler);
      expect(await conversationOwner(closed)).toBe(p.member);
      const history = await getOwnershipHistory(t.db, open);
      expect(history.map((h) => [h.previousOwnerId, h.newOwnerId, h.reason])).toEqual([
        [null, p.member, 'conversation_started'],
        [p.member, p.handler, 'member_removed'],
      ]);
      const audit = await t.db.query(
        'SELECT action, listings_moved, conversations_moved, moved_to_seller_id, actor FROM company_member_audit WHERE seller_id = $1',
        [p.member],
      );
      expect(audit).toEqual([
        {
          action: 'removed',
          listings_moved: 1,
          conversations_moved: 1,
          moved_to_seller_id: p.handler,
          actor: path === 'service' ? ACTOR : expect.any(String),
        },
      ]);
      const [member] = await t.db.query<{ member_status: string; removed_at: Date | null }>('SELECT member_status, removed_at FROM sellers WHERE id = $1', [p.member]);
      expect(member).toMatchObject({ member_status: 'removed', removed_at: expect.any(Date) });
    });

    it('a member with no listings is removed with nothing moved', async () => {
      const p = await dealership();
      await remove(t.db, p.companyId, p.member);
      const [audit] = await t.db.query('SELECT listings_moved, conversations_moved FROM company_member_audit WHERE seller_id = $1', [p.member]);
      expect(audit).toEqual({ listings_moved: 0, conversations_moved: 0 });
    });

    it('with no handler, the oldest active admin takes over', async () => {
      const p = await dealership();
      const listingId = await m.listing(t.db, p.member, p.companyId);
      await remove(t.db, p.companyId, p.member);
      expect(await ownerOf(listingId)).toMatchObject({ current_owner_id: p.admin, current_owner_type: 'company_admin' });
    });

    it('removing the handler who holds listings moves them on down the chain', async () => {
      const p = await dealership({ handler: true });
      const listingId = await m.listing(t.db, p.member, p.companyId);
      const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db));
      await remove(t.db, p.companyId, p.member);
      await remove(t.db, p.companyId, p.handler!);
      expect(await ownerOf(listingId)).toMatchObject({ current_owner_id: p.admin, current_owner_type: 'company_admin' });
      expect(await conversationOwner(conversationId)).toBe(p.admin);
      const history = await getOwnershipHistory(t.db, conversationId);
      expect(history.map((h) => h.newOwnerId)).toEqual([p.member, p.handler, p.admin]);
    });

    it('removing the last active owner/admin is refused and changes nothing', async () => {
      const p = await dealership({ admin: false });
      const listingId = await m.listing(t.db, p.owner, p.companyId);
      const attempt = remove(t.db, p.companyId, p.owner);
      await expect(attempt).rejects.toThrow(/last active owner or admin/);
      if (path === 'service') await expect(attempt).rejects.toBeInstanceOf(ConflictError);
      const [owner] = await t.db.query('SELECT member_status FROM sellers WHERE id = $1', [p.owner]);
      expect(owner).toEqual({ member_status: 'active' });
      expect(await ownerOf(listingId)).toMatchObject({ current_owner_id: p.owner });
      expect(await t.db.query('SELECT 1 FROM company_member_audit WHERE seller_id = $1', [p.owner])).toEqual([]);
    });

    it('an admin can be removed while the owner remains', async () => {
      const p = await dealership();
      const listingId = await m.listing(t.db, p.admin!, p.companyId);
      await remove(t.db, p.companyId, p.admin!);
      expect(await ownerOf(listingId)).toMatchObject({ current_owner_id: p.owner, current_owner_type: 'company_owner' });
    });
  });
}

describe('reactivating a member', () => {
  it('without restore: active again, listings stay with the fallback', async () => {
    const p = await dealership({ handler: true });
    const listingId = await m.listing(t.db, p.member, p.companyId);
    await viaService(t.db, p.companyId, p.member);
    const summary = await reactivateMember(t.db, { companyId: p.companyId, sellerId: p.member, actor: ACTOR, restoreListings: false });
    expect(summary).toMatchObject({ status: 'active', listingsRestored: 0, conversationsRestored: 0 });
    expect(await ownerOf(listingId)).toMatchObject({ current_owner_id: p.handler });
  });

  it('with restore: gets back listings and the open conversations the fallback still holds, logged', async () => {
    const p = await dealership({ handler: true });
    const listingId = await m.listing(t.db, p.member, p.companyId);
    const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db));
    await viaService(t.db, p.companyId, p.member);
    const summary = await reactivateMember(t.db, { companyId: p.companyId, sellerId: p.member, actor: ACTOR, restoreListings: true });
    expect(summary).toMatchObject({ listingsRestored: 1, conversationsRestored: 1 });
    expect(await ownerOf(listingId)).toEqual({ current_owner_id: p.member, current_owner_type: 'seller', status: 'active' });
    const history = await getOwnershipHistory(t.db, conversationId);
    expect(history.at(-1)).toMatchObject({ previousOwnerId: p.handler, newOwnerId: p.member, reason: 'member_reactivated', actor: ACTOR });
  });

  it('with restore: never takes back what another person took over since', async () => {
    const p = await dealership({ handler: true });
    const kept = await m.listing(t.db, p.member, p.companyId);
    const takenOver = await m.listing(t.db, p.member, p.companyId);
    const colleague = await m.seller(t.db, p.companyId, 'member');
    await viaService(t.db, p.companyId, p.member);
    await transferListing(t.db, { companyId: p.companyId, listingId: takenOver, toSellerId: colleague, actor: ACTOR });
    await reactivateMember(t.db, { companyId: p.companyId, sellerId: p.member, actor: ACTOR, restoreListings: true });
    expect(await ownerOf(kept)).toMatchObject({ current_owner_id: p.member });
    expect(await ownerOf(takenOver)).toMatchObject({ current_owner_id: colleague, current_owner_type: 'seller' });
  });

  it('an already active member is refused', async () => {
    const p = await dealership();
    await expect(reactivateMember(t.db, { companyId: p.companyId, sellerId: p.member, actor: ACTOR, restoreListings: true })).rejects.toMatchObject({
      code: 'already_active',
    });
  });
});

describe('buyer messages', () => {
  it("a message about a removed member's listing reaches the company's handler", async () => {
    const p = await dealership({ handler: true });
    const listingId = await m.listing(t.db, p.member, p.companyId);
    const buyerId = await m.buyer(t.db);
    const first = await sendBuyerMessage(t.db, { buyerId, listingId, body: 'Is it still available?' });
    expect(first.recipient.id).toBe(p.member);
    await viaService(t.db, p.companyId, p.member);
    const second = await sendBuyerMessage(t.db, { buyerId, listingId, body: 'Hello?' });
    expect(second).toMatchObject({ conversationId: first.conversationId, recipient: { id: p.handler } });
  });

  it('a closed conversation is reopened by a buyer message', async () => {
    const p = await dealership();
    const listingId = await m.listing(t.db, p.member, p.companyId);
    const buyerId = await m.buyer(t.db);
    const first = await sendBuyerMessage(t.db, { buyerId, listingId, body: 'Hi' });
    await t.db.query(`UPDATE conversations SET status = 'closed' WHERE id = $1`, [first.conversationId]);
    const again = await sendBuyerMessage(t.db, { buyerId, listingId, body: 'Back again' });
    expect(again).toMatchObject({ conversationId: first.conversationId, conversationReopened: true, recipient: { id: p.member } });
    const [row] = await t.db.query('SELECT status FROM conversations WHERE id = $1', [first.conversationId]);
    expect(row).toEqual({ status: 'open' });
  });

  it('a conversation whose owner was removed behind the triggers is moved (and logged) before the message is stored', async () => {
    const p = await dealership({ handler: true });
    const listingId = await m.listing(t.db, p.member, p.companyId);
    const buyerId = await m.buyer(t.db);
    const first = await sendBuyerMessage(t.db, { buyerId, listingId, body: 'Hi' });
    await t.db.transaction(async (tx) => {
      await tx.query('SET LOCAL session_replication_role = replica'); // simulate a state from before the triggers existed
      await tx.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [p.member]);
    });
    const again = await sendBuyerMessage(t.db, { buyerId, listingId, body: 'Anyone?' });
    expect(again.recipient.id).toBe(p.handler);
    const history = await getOwnershipHistory(t.db, first.conversationId);
    expect(history.at(-1)).toMatchObject({ previousOwnerId: p.member, newOwnerId: p.handler, reason: 'owner_inactive' });
  });

  it.each(['sold', 'archived'] as const)('a %s listing takes no new messages', async (status) => {
    const p = await dealership();
    const listingId = await m.listing(t.db, p.member, p.companyId, status);
    await expect(sendBuyerMessage(t.db, { buyerId: await m.buyer(t.db), listingId, body: 'Hi' })).rejects.toMatchObject({
      code: 'listing_not_active',
      httpStatus: 409,
    });
  });
});

describe('message handlers', () => {
  it('a handler must be an active member of the company', async () => {
    const p = await dealership();
    const outsider = await m.seller(t.db, await m.company(t.db), 'member');
    await expect(
      updateMessageHandlers(t.db, { companyId: p.companyId, actor: ACTOR, changes: [{ sellerId: outsider, priority: 1 }] }),
    ).rejects.toMatchObject({ code: 'invalid_handler' });
  });

  it('deactivating a handler hands what it held as handler down the chain, logged as handler_changed', async () => {
    const p = await dealership({ handler: true });
    const listingId = await m.listing(t.db, p.member, p.companyId);
    const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db));
    await viaService(t.db, p.companyId, p.member);
    const handlers = await updateMessageHandlers(t.db, { companyId: p.companyId, actor: ACTOR, changes: [{ sellerId: p.handler!, active: false }] });
    expect(handlers.find((h) => h.sellerId === p.handler)?.isActive).toBe(false);
    expect(await ownerOf(listingId)).toMatchObject({ current_owner_id: p.admin, current_owner_type: 'company_admin' });
    expect((await getOwnershipHistory(t.db, conversationId)).at(-1)).toMatchObject({ newOwnerId: p.admin, reason: 'handler_changed' });
  });
});

describe('a company where nobody can take over', () => {
  it('parks the listing as pending_reassignment, unassigns its conversations, and reactivation restores them', async () => {
    const companyId = await m.company(t.db);
    const member = await m.seller(t.db, companyId, 'member');
    const listingId = await m.listing(t.db, member, companyId);
    const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db));
    await removeMember(t.db, { companyId, sellerId: member, actor: ACTOR, reason: 'left' });
    expect(await ownerOf(listingId)).toEqual({ current_owner_id: null, current_owner_type: 'unassigned', status: 'pending_reassignment' });
    expect(await conversationOwner(conversationId)).toBeNull();
    await reactivateMember(t.db, { companyId, sellerId: member, actor: ACTOR, restoreListings: true });
    expect(await ownerOf(listingId)).toEqual({ current_owner_id: member, current_owner_type: 'seller', status: 'active' });
    expect(await conversationOwner(conversationId)).toBe(member);
  });
});

describe('plain SQL that does not touch member_status keeps the invariant too', () => {
  async function removedMemberOfDealership() {
    const p = await dealership({ handler: true });
    await viaPlainSql(t.db, p.companyId, p.member);
    return p;
  }

  it('a new active listing of a removed seller goes to the fallback', async () => {
    const p = await removedMemberOfDealership();
    const listingId = await m.listing(t.db, p.member, p.companyId);
    expect(await ownerOf(listingId)).toMatchObject({ current_owner_id: p.handler, current_owner_type: 'company_handler', status: 'active' });
  });

  it("a removed seller's draft put live goes to the fallback", async () => {
    const p = await dealership({ handler: true });
    const draft = await m.listing(t.db, p.member, p.companyId, 'draft');
    await viaPlainSql(t.db, p.companyId, p.member);
    await t.db.query(`UPDATE listed_cars SET status = 'active' WHERE id = $1`, [draft]);
    expect(await ownerOf(draft)).toMatchObject({ current_owner_id: p.handler, status: 'active' });
  });

  it('a parked listing put live without anyone to take it is refused; with someone, it goes to them', async () => {
    const companyId = await m.company(t.db);
    const member = await m.seller(t.db, companyId, 'member');
    const listingId = await m.listing(t.db, member, companyId);
    await viaPlainSql(t.db, companyId, member);
    expect(await ownerOf(listingId)).toMatchObject({ status: 'pending_reassignment' });
    await expect(t.db.query(`UPDATE listed_cars SET status = 'active' WHERE id = $1`, [listingId])).rejects.toThrow(/nobody in its company/);
    const admin = await m.seller(t.db, companyId, 'admin');
    await t.db.query(`UPDATE listed_cars SET status = 'active' WHERE id = $1`, [listingId]);
    expect(await ownerOf(listingId)).toMatchObject({ current_owner_id: admin, current_owner_type: 'company_admin', status: 'active' });
  });

  it('reopening a closed conversation of a removed seller moves it to the current recipient, logged', async () => {
    const p = await dealership({ handler: true });
    const listingId = await m.listing(t.db, p.member, p.companyId);
    const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db));
    await t.db.query(`UPDATE conversations SET status = 'closed' WHERE id = $1`, [conversationId]);
    await viaPlainSql(t.db, p.companyId, p.member);
    await t.db.query(`UPDATE conversations SET status = 'open' WHERE id = $1`, [conversationId]);
    expect(await conversationOwner(conversationId)).toBe(p.handler);
    expect((await getOwnershipHistory(t.db, conversationId)).at(-1)).toMatchObject({ previousOwnerId: p.member, newOwnerId: p.handler, reason: 'owner_inactive' });
  });

  it('handing a listing to a removed seller by plain SQL gives it to the fallback instead', async () => {
    const p = await dealership({ handler: true });
    const listingId = await m.listing(t.db, p.admin!, p.companyId);
    await viaPlainSql(t.db, p.companyId, p.member);
    await t.db.query(`UPDATE listed_cars SET seller_id = $2 WHERE id = $1`, [listingId, p.member]);
    expect(await ownerOf(listingId)).toMatchObject({ current_owner_id: p.handler });
  });
});

describe('concurrent plain SQL and company moves', () => {
  async function secondConnection() {
    const client = new pg.Client({ connectionString: t.url });
    await client.connect();
    return client;
  }

  it('a draft put live while its (plain SQL) owner is being removed ends with the fallback, not the removed owner', async () => {
    const p = await dealership({ handler: true });
    const draft = await m.listing(t.db, p.member, p.companyId, 'draft');
    const writer = await secondConnection();
    try {
      await writer.query('BEGIN');
      await writer.query(`UPDATE listed_cars SET status = 'active' WHERE id = $1`, [draft]);
      const removal = viaPlainSql(t.db, p.companyId, p.member); // waits for the writer's lock on the owner
      await new Promise((r) => setTimeout(r, 200));
      await writer.query('COMMIT');
      await removal;
    } finally {
      await writer.end();
    }
    expect(await ownerOf(draft)).toMatchObject({ current_owner_id: p.handler, status: 'active' });
  });

  it('a fallback being removed at that moment is not chosen', async () => {
    const p = await dealership({ handler: true });
    const draft = await m.listing(t.db, p.member, p.companyId, 'draft');
    await viaPlainSql(t.db, p.companyId, p.member);
    const remover = await secondConnection();
    try {
      await remover.query('BEGIN');
      await remover.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [p.handler]);
      const activation = t.db.query(`UPDATE listed_cars SET status = 'active' WHERE id = $1`, [draft]);
      await new Promise((r) => setTimeout(r, 200));
      await remover.query('COMMIT');
      await activation;
    } finally {
      await remover.end();
    }
    expect(await ownerOf(draft)).toMatchObject({ current_owner_id: p.admin, current_owner_type: 'company_admin' });
  });

  it("a member moved to another company leaves the old company's listings and conversations with the old company", async () => {
    const p = await dealership({ handler: true });
    const listingId = await m.listing(t.db, p.member, p.companyId);
    const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db));
    const other = await m.company(t.db);
    await m.seller(t.db, other, 'owner');
    await t.db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [p.member, other]);
    expect(await ownerOf(listingId)).toMatchObject({ current_owner_id: p.handler });
    expect(await conversationOwner(conversationId)).toBe(p.handler);
  });

  it('a removal that also clears company_id hands over to the company the member leaves', async () => {
    const p = await dealership({ handler: true });
    const listingId = await m.listing(t.db, p.member, p.companyId);
    await t.db.query(`UPDATE sellers SET member_status = 'removed', company_id = NULL WHERE id = $1`, [p.member]);
    expect(await ownerOf(listingId)).toMatchObject({ current_owner_id: p.handler, status: 'active' });
  });

  it('a plain-SQL hand-over of a conversation is logged, keeping the chain unbroken', async () => {
    const p = await dealership({ handler: true });
    const listingId = await m.listing(t.db, p.member, p.companyId);
    const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db));
    const colleague = await m.seller(t.db, p.companyId, 'member');
    await t.db.query('UPDATE conversations SET seller_id = $2 WHERE id = $1', [conversationId, colleague]);
    await viaPlainSql(t.db, p.companyId, colleague);
    const history = await getOwnershipHistory(t.db, conversationId);
    expect(history.map((h) => [h.previousOwnerId, h.newOwnerId, h.reason])).toEqual([
      [null, p.member, 'conversation_started'],
      [p.member, colleague, 'manual_transfer'],
      [colleague, p.handler, 'member_removed'],
    ]);
  });

  it("a member who moves to another company counts as a removal in the company's statistics", async () => {
    const p = await dealership();
    const elsewhere = await m.company(t.db);
    const [{ today }] = (await t.db.query<{ today: string }>(`SELECT to_char(now(), 'YYYY-MM-DD') AS today`)) as [{ today: string }];
    await t.db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [p.member, elsewhere]);
    const [counts] = await t.db.query<{ removals_last_30_days: string }>('SELECT removals_last_30_days FROM get_member_statistics($1)', [p.companyId]);
    expect(Number(counts!.removals_last_30_days)).toBe(1);
    const stats = await getCompanyStats(t.db, p.companyId);
    expect(stats.membershipChanges).toEqual([{ day: today, removals: 1, reactivations: 0 }]);
    expect((await getCompanyStats(t.db, elsewhere)).membershipChanges).toEqual([]);
  });

  it("deleting conversations deletes their ownership history, and only theirs", async () => {
    const p = await dealership({ handler: true });
    const listingId = await m.listing(t.db, p.member, p.companyId);
    const [gone, other, kept] = [await m.buyer(t.db), await m.buyer(t.db), await m.buyer(t.db)];
    const goneIds = [await m.conversation(t.db, listingId, gone), await m.conversation(t.db, listingId, other)];
    const keptId = await m.conversation(t.db, listingId, kept);
    await viaPlainSql(t.db, p.companyId, p.member); // every conversation gets a second log row
    const logRows = async (ids: string[]) =>
      (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM conversation_ownership_log WHERE conversation_id = ANY($1::uuid[])', [ids]))[0]!.n;
    expect(await logRows(goneIds)).toBe(4);
    await t.db.query('DELETE FROM conversations WHERE id = ANY($1::uuid[])', [goneIds]);
    expect(await logRows(goneIds)).toBe(0);
    expect(await logRows([keptId])).toBe(2);
  });

  it('reactivation does not take back a listing the marketplace handed to someone else since', async () => {
    const p = await dealership({ handler: true });
    const colleague = await m.seller(t.db, p.companyId, 'member');
    const listingId = await m.listing(t.db, p.member, p.companyId);
    await viaPlainSql(t.db, p.companyId, p.member);
    await t.db.query('UPDATE listed_cars SET seller_id = $2 WHERE id = $1', [listingId, colleague]);
    await viaPlainSql(t.db, p.companyId, colleague);
    await reactivateMember(t.db, { companyId: p.companyId, sellerId: p.member, actor: ACTOR, restoreListings: true });
    expect(await ownerOf(listingId)).toMatchObject({ current_owner_id: p.handler });
  });
});

describe('verification of ownership histories', () => {
  it('reports a conversation whose owner changed without a log row, naming it', async () => {
    const { verifyInstallation } = await import('../../functions/verification/verify');
    expect((await verifyInstallation(t.db)).checks.find((c) => c.name === 'ownership history')).toMatchObject({ ok: true });
    const p = await dealership();
    const listingId = await m.listing(t.db, p.member, p.companyId);
    const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db));
    const silently = async (owner: string) =>
      t.db.transaction(async (tx) => {
        await tx.query('SET LOCAL session_replication_role = replica'); // bypasses the triggers, as a broken path would
        await tx.query('UPDATE conversations SET seller_id = $2 WHERE id = $1', [conversationId, owner]);
      });
    await silently(p.admin!);
    try {
      const check = (await verifyInstallation(t.db)).checks.find((c) => c.name === 'ownership history');
      expect(check).toMatchObject({ ok: false });
      expect(check?.detail).toContain(conversationId);
    } finally {
      await silently(p.member);
    }
  });
});
