/**
 * The events outbox (migration 8): every path that changes membership or moves ownership writes
 * exactly the expected events in the same transaction, the API (through its route functions, as
 * the API's login user) and the marketplace's plain SQL alike; a rolled-back change writes none; a
 * big hand-over is a bounded number of pages.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgDatabase } from '../../functions/database/pg-adapter';
import { relayOutbox } from '../../functions/events/relay';
import { createMigratedDatabase, type TestDatabase } from '../helpers/database';
import * as m from '../helpers/marketplace';

let t: TestDatabase;
let api: PgDatabase;

interface OutboxRow {
  id: string;
  transaction_id: string;
  company_id: string | null;
  event_type: string;
  actor: string;
  reason: string | null;
  detail: Record<string, unknown>;
}

beforeAll(async () => {
  t = await createMigratedDatabase();
  api = new PgDatabase(t.apiUrl, { max: 2, applicationName: 'ems-test-api' });
});
afterAll(async () => {
  await api?.close();
  await t?.drop();
});

/** The events `work` wrote, in outbox order. */
async function eventsOf(work: () => Promise<unknown>): Promise<OutboxRow[]> {
  const [{ last }] = (await t.db.query<{ last: string }>('SELECT coalesce(max(id), 0)::text AS last FROM messaging_outbox')) as [{ last: string }];
  await work();
  return t.db.query<OutboxRow>('SELECT id::text, transaction_id::text, company_id, event_type, actor, reason, detail FROM messaging_outbox WHERE id > $1 ORDER BY id', [last]);
}

const summary = (events: OutboxRow[]) => events.map((e) => [e.event_type, e.company_id]);

/** A company with an owner, a handler (the fallback) and a member who holds `listings` listings with one open conversation each. */
async function dealership(listings = 2) {
  const companyId = await m.company(t.db);
  const owner = await m.seller(t.db, companyId, 'owner', { createdAt: '2020-01-01' });
  const handler = await m.seller(t.db, companyId, 'member', { createdAt: '2020-02-01' });
  await t.db.query('INSERT INTO company_message_handlers (company_id, seller_id, priority) VALUES ($1, $2, 10)', [companyId, handler]);
  const member = await m.seller(t.db, companyId, 'member');
  const buyer = await m.buyer(t.db);
  const listingIds: string[] = [];
  const conversationIds: string[] = [];
  for (let i = 0; i < listings; i += 1) {
    const listing = await m.listing(t.db, member, companyId);
    listingIds.push(listing);
    conversationIds.push(await m.conversation(t.db, listing, buyer, member));
  }
  return { companyId, owner, ownerEmail: `${owner}@sellers.test`, handler, member, listingIds: listingIds.sort(), conversationIds: conversationIds.sort() };
}

describe('a member removed', () => {
  for (const path of ['the API (api_remove_member, as the API user)', 'plain SQL'] as const) {
    it(`through ${path}: member.removed, then the listings and the conversations handed to the fallback, in one transaction`, async () => {
      const d = await dealership(2);
      const events = await eventsOf(() =>
        path === 'plain SQL'
          ? t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [d.member])
          : api.query(`SELECT api_remove_member($1, 'true', $2, 'left for a competitor')`, [d.ownerEmail, d.member]),
      );
      expect(summary(events)).toEqual([
        ['member.removed', d.companyId],
        ['listings.handed_over', d.companyId],
        ['conversations.moved', d.companyId],
      ]);
      expect(new Set(events.map((e) => e.transaction_id)).size).toBe(1);
      expect(events[0]!.detail).toEqual({ sellerId: d.member, fromStatus: 'active', toStatus: 'removed', deleted: false });
      expect(events[1]!.detail).toMatchObject({ fromSellerId: d.member, toSellerId: d.handler, toType: 'company_handler', count: 2, page: 1, pages: 1, listingIds: d.listingIds });
      expect(events[2]!.detail).toMatchObject({ fromSellerId: d.member, toSellerId: d.handler, count: 2, conversationIds: d.conversationIds, logReason: 'member_removed' });
      // Who acted: the API's caller (their seller id) and their reason; for plain SQL, the database user.
      const [{ me }] = (await t.db.query<{ me: string }>('SELECT session_user AS me')) as [{ me: string }];
      expect(events.map((e) => [e.actor, e.reason])).toEqual(
        Array(3).fill(path === 'plain SQL' ? [me, null] : [d.owner, 'left for a competitor']),
      );
    });
  }

  it('a removal rolled back writes no event', async () => {
    const d = await dealership(1);
    const events = await eventsOf(() =>
      t.db.transaction(async (tx) => {
        await tx.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [d.member]);
        throw new Error('changed my mind');
      }).catch(() => undefined),
    );
    expect(events).toEqual([]);
  });

  it('a member holding 2,500 conversations: one event per page of 1,000 ids, counts that add up, every id once', async () => {
    const d = await dealership(1);
    const buyer = await m.buyer(t.db);
    await t.db.query(
      `INSERT INTO conversations (listing_id, buyer_id, seller_id) SELECT $1, $2, $3 FROM generate_series(1, 2499)`,
      [d.listingIds[0], buyer, d.member],
    );
    const events = await eventsOf(() => t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [d.member]));
    const moved = events.filter((e) => e.event_type === 'conversations.moved');
    expect(moved.map((e) => [e.detail.page, e.detail.pages, (e.detail.conversationIds as string[]).length, e.detail.count])).toEqual([
      [1, 3, 1000, 2500],
      [2, 3, 1000, 2500],
      [3, 3, 500, 2500],
    ]);
    const ids = moved.flatMap((e) => e.detail.conversationIds as string[]);
    expect(new Set(ids).size).toBe(2500);
    const [{ n }] = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM conversations WHERE seller_id = $1', [d.handler])) as [{ n: number }];
    expect(n).toBe(2500);
  });
});

describe('other membership changes', () => {
  it('a member reactivated with their listings restored: member.reactivated, then the listings and conversations handed back', async () => {
    const d = await dealership(1);
    await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [d.member]);
    const events = await eventsOf(() => api.query(`SELECT api_reactivate_member($1, 'true', $2, true, 'came back')`, [d.ownerEmail, d.member]));
    expect(summary(events)).toEqual([
      ['member.reactivated', d.companyId],
      ['listings.handed_over', d.companyId],
      ['conversations.moved', d.companyId],
    ]);
    expect(events[1]!.detail).toMatchObject({ fromSellerId: d.handler, toSellerId: d.member, listingIds: d.listingIds });
  });

  it('an active member moved to another company by plain SQL: left the one, joined the other, and what they held of the first handed over', async () => {
    const d = await dealership(1);
    const other = await m.company(t.db);
    await m.seller(t.db, other, 'owner');
    const events = await eventsOf(() => t.db.query('UPDATE sellers SET company_id = $2 WHERE id = $1', [d.member, other]));
    expect(summary(events)).toEqual([
      ['member.left_company', d.companyId],
      ['member.joined_company', other],
      ['listings.handed_over', d.companyId],
      ['conversations.moved', d.companyId],
    ]);
    expect(events[0]!.detail).toEqual({ sellerId: d.member, fromCompanyId: d.companyId, toCompanyId: other, status: 'active' });
  });

  it('a role change, and the DELETE of an active member', async () => {
    const d = await dealership(1);
    const roleEvents = await eventsOf(() => t.db.query(`UPDATE sellers SET role = 'admin' WHERE id = $1`, [d.member]));
    expect(summary(roleEvents)).toEqual([['member.role_changed', d.companyId]]);
    expect(roleEvents[0]!.detail).toEqual({ sellerId: d.member, fromRole: 'member', toRole: 'admin' });

    const leaver = await m.seller(t.db, d.companyId, 'member');
    const deleteEvents = await eventsOf(() => t.db.query('DELETE FROM sellers WHERE id = $1', [leaver]));
    expect(summary(deleteEvents)).toEqual([['member.removed', d.companyId]]);
    expect(deleteEvents[0]!.detail).toMatchObject({ sellerId: leaver, deleted: true });
  });

  it('nothing for an update that changes no holder or membership (a price, a conversation touched by a message)', async () => {
    const d = await dealership(1);
    const events = await eventsOf(async () => {
      await t.db.query('UPDATE listed_cars SET price_cents = price_cents + 100 WHERE id = $1', [d.listingIds[0]]);
      await t.db.query('UPDATE conversations SET last_message_at = now() WHERE id = $1', [d.conversationIds[0]]);
      await t.db.query(`UPDATE sellers SET name = 'Renamed' WHERE id = $1`, [d.member]);
    });
    expect(events).toEqual([]);
  });
});

describe('ownership moved directly', () => {
  it('update_conversation_ownership (a manual transfer): conversations.moved with its reason', async () => {
    const d = await dealership(1);
    const events = await eventsOf(() => t.db.query(`SELECT update_conversation_ownership($1, $2, 'manual_transfer')`, [d.conversationIds[0], d.owner]));
    expect(summary(events)).toEqual([['conversations.moved', d.companyId]]);
    expect(events[0]!.detail).toMatchObject({ fromSellerId: d.member, toSellerId: d.owner, count: 1, logReason: 'manual_transfer' });
  });

  it("a listing's holder changed by plain SQL: listings.handed_over (its conversations stay with a holder who may keep them)", async () => {
    const d = await dealership(1);
    const events = await eventsOf(() => t.db.query('UPDATE listed_cars SET current_owner_id = $2 WHERE id = $1', [d.listingIds[0], d.owner]));
    expect(summary(events)).toEqual([['listings.handed_over', d.companyId]]);
    expect(events[0]!.detail).toMatchObject({ fromSellerId: d.member, toSellerId: d.owner, count: 1, listingIds: d.listingIds });
  });
});

describe('what a caller or a trigger cannot bend', () => {
  it("a reason the API caller's session set does not reach the route's events; the audit and the events agree", async () => {
    const d = await dealership(1);
    const session = new PgDatabase(t.apiUrl, { max: 1, applicationName: 'ems-test-api' });
    try {
      const events = await eventsOf(() =>
        session.transaction(async (tx) => {
          await tx.query(`SELECT set_config('ems.transfer_reason', 'forged', false)`);
          await tx.query(`SELECT api_remove_member($1, 'true', $2, 'the real reason')`, [d.ownerEmail, d.member]);
        }),
      );
      expect(events.map((e) => e.reason)).toEqual(['the real reason', 'the real reason', 'the real reason']);
    } finally {
      await session.close();
    }
  });

  it("a conversation moved by a trigger (its listing moved to another company) carries the log's reason for that move", async () => {
    const d = await dealership(1);
    const other = await m.company(t.db);
    await m.seller(t.db, other, 'owner');
    const events = await eventsOf(() => t.db.query('UPDATE listed_cars SET company_id = $2 WHERE id = $1', [d.listingIds[0], other]));
    const moved = events.find((e) => e.event_type === 'conversations.moved')!;
    const [last] = await t.db.query<{ reason: string }>('SELECT reason FROM conversation_ownership_log WHERE conversation_id = $1 ORDER BY id DESC LIMIT 1', [
      d.conversationIds[0],
    ]);
    expect(moved.detail.logReason).toBe(last!.reason);
    expect(last!.reason).not.toBe('conversation_started');
  });

  it('an actor or reason of any length still makes an event that fits a PutEvents call (capped)', async () => {
    const d = await dealership(1);
    const events = await eventsOf(() =>
      t.db.transaction(async (tx) => {
        await tx.query(`SELECT set_config('ems.reason', repeat('x', 300000), true)`);
        await tx.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [d.member]);
      }),
    );
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) expect(e.reason!.length).toBeLessThanOrEqual(1000);
  });
});

describe("one company's events: published in id order, and no writer waits for another", () => {
  /** A session of its own, for a transaction held open across steps. */
  async function session(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: t.url });
    await client.connect();
    return client;
  }

  /** One relay run as the relay's login user; what it published, as (event type, company) in the order it published them. */
  async function relayRun(): Promise<{ id: string; type: string; company: string | null }[]> {
    const published: { id: string; type: string; company: string | null }[] = [];
    const relay = new PgDatabase(t.relayUrl, { max: 1, applicationName: 'ems-test-relay' });
    try {
      await relayOutbox(relay, async (entries) => {
        published.push(...entries.map((e) => ({ id: e.event.id, type: e.detailType, company: e.event.companyId })));
        return entries.map(() => undefined);
      });
    } finally {
      await relay.close();
    }
    return published;
  }

  it('a change does not wait for an uncommitted change of the same company; the relay leaves that company until it ends, then publishes both in id order', async () => {
    const d = await dealership(1);
    await relayRun(); // what the setup wrote
    const first = await session();
    try {
      await first.query('BEGIN');
      await first.query(`UPDATE sellers SET role = 'admin' WHERE id = $1`, [d.member]);
      // Another session's change of the same company commits at once: writers share the company's lock.
      await t.db.query('UPDATE listed_cars SET current_owner_id = $2 WHERE id = $1', [d.listingIds[0], d.owner]);
      // Its event has the higher id but committed first: publishing it now could put it before the first one's.
      expect((await relayRun()).filter((e) => e.company === d.companyId)).toEqual([]);
      await first.query('COMMIT');
    } finally {
      await first.end();
    }
    const published = (await relayRun()).filter((e) => e.company === d.companyId);
    expect(published.map((e) => e.type)).toEqual(['member.role_changed', 'listings.handed_over']);
    expect(published.map((e) => BigInt(e.id))).toEqual(published.map((e) => BigInt(e.id)).sort((x, y) => (x < y ? -1 : 1)));
  });

  it('a change that reported an event, then waits for a row a second change holds while that one reports an event of the same company, is no deadlock', async () => {
    const d = await dealership(1);
    const [a, b] = [await session(), await session()];
    try {
      await a.query('BEGIN');
      await b.query('BEGIN');
      // a reports a membership change of the company (its outbox lock, shared).
      await a.query(`UPDATE sellers SET role = 'admin' WHERE id = $1`, [d.member]);
      // b holds the conversation; a goes on to need it and waits.
      await b.query('SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [d.conversationIds[0]]);
      const aWaits = a.query('SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [d.conversationIds[0]]);
      // b reports a hand-over of the same company: with an exclusive company lock this waited for a (40P01).
      await b.query('UPDATE listed_cars SET current_owner_id = $2 WHERE id = $1', [d.listingIds[0], d.owner]);
      await b.query('COMMIT');
      await aWaits;
      await a.query('COMMIT');
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
    const published = (await relayRun()).filter((e) => e.company === d.companyId).map((e) => e.type);
    expect(published).toEqual(expect.arrayContaining(['member.role_changed', 'listings.handed_over']));
  });
});
