import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigratedDatabase, type TestDatabase } from '../helpers/database';
import * as m from '../helpers/marketplace';

let t: TestDatabase;
beforeAll(async () => {
  t = await createMigratedDatabase();
});
afterAll(async () => t?.drop());

/** A company whose default handler setup is under the test's control (created after migrating). */
async function dealership(options: { handler?: boolean; admin?: boolean; owner?: boolean } = {}) {
  const companyId = await m.company(t.db);
  const owner = options.owner === false ? null : await m.seller(t.db, companyId, 'owner', { createdAt: '2020-01-01' });
  const admin = options.admin === false ? null : await m.seller(t.db, companyId, 'admin', { createdAt: '2020-02-01' });
  const handler = options.handler ? await m.seller(t.db, companyId, 'member', { createdAt: '2020-03-01' }) : null;
  if (handler) await t.db.query('INSERT INTO company_message_handlers (company_id, seller_id, priority) VALUES ($1, $2, 10)', [companyId, handler]);
  const member = await m.seller(t.db, companyId, 'member');
  return { companyId, owner, admin, handler, member };
}

async function markInactive(sellerId: string, status = 'removed') {
  // Bypass the triggers' moving of listings to look at routing alone: the listing still points at the inactive owner.
  await t.db.transaction(async (tx) => {
    await tx.query(`SET LOCAL session_replication_role = replica`);
    await tx.query(`UPDATE sellers SET member_status = $2 WHERE id = $1`, [sellerId, status]);
  });
}

describe('get_listing_message_recipient', () => {
  const cases = [
    { name: 'owner active → the owner', setup: {}, inactive: [], expect: { who: 'member', type: 'seller', reason: 'owner_active' } },
    { name: 'owner removed → the top handler', setup: { handler: true }, inactive: ['member'], expect: { who: 'handler', type: 'company_handler', reason: 'owner_inactive_company_handler' } },
    { name: 'owner removed, no handler → the oldest admin', setup: {}, inactive: ['member'], expect: { who: 'admin', type: 'company_admin', reason: 'owner_inactive_company_admin' } },
    { name: 'owner removed, handler removed → the admin', setup: { handler: true }, inactive: ['member', 'handler'], expect: { who: 'admin', type: 'company_admin', reason: 'owner_inactive_company_admin' } },
    { name: 'owner suspended, no handler, no admin → the owner', setup: { admin: false }, inactive: ['member:suspended'], expect: { who: 'owner', type: 'company_owner', reason: 'owner_inactive_company_owner' } },
    { name: 'nobody left → no recipient, said so', setup: { admin: false, owner: false }, inactive: ['member'], expect: { who: null, type: null, reason: 'no_active_recipient' } },
  ] as const;

  for (const c of cases) {
    it(c.name, async () => {
      const people = await dealership(c.setup);
      const listingId = await m.listing(t.db, people.member, people.companyId);
      for (const entry of c.inactive) {
        const [who, status] = entry.split(':') as [keyof typeof people, string | undefined];
        await markInactive(people[who]!, status);
      }
      const row = await m.recipientOf(t.db, listingId);
      expect(row).toMatchObject({
        recipient_id: c.expect.who ? people[c.expect.who] : null,
        recipient_type: c.expect.type,
        routing_reason: c.expect.reason,
        company_id: people.companyId,
      });
    });
  }

  it('unknown listing → no row', async () => {
    expect(await m.recipientOf(t.db, randomUUID())).toBeUndefined();
  });

  it.each(['sold', 'archived', 'draft'] as const)('%s listing → no recipient, listing_not_active', async (status) => {
    const people = await dealership();
    const listingId = await m.listing(t.db, people.member, people.companyId, status);
    expect(await m.recipientOf(t.db, listingId)).toMatchObject({ recipient_id: null, routing_reason: 'listing_not_active' });
  });

  it('handlers tie on priority → fewest open conversations, then oldest', async () => {
    const people = await dealership();
    const busy = await m.seller(t.db, people.companyId, 'member', { createdAt: '2019-01-01' });
    const idle = await m.seller(t.db, people.companyId, 'member', { createdAt: '2021-01-01' });
    for (const h of [busy, idle]) {
      await t.db.query('INSERT INTO company_message_handlers (company_id, seller_id, priority) VALUES ($1, $2, 5)', [people.companyId, h]);
    }
    const otherListing = await m.listing(t.db, busy, people.companyId);
    await m.conversation(t.db, otherListing, await m.buyer(t.db), busy);
    const listingId = await m.listing(t.db, people.member, people.companyId);
    await markInactive(people.member);
    expect((await m.recipientOf(t.db, listingId))?.recipient_id).toBe(idle);
  });

  it('never returns a member who is not active, for any listing in the database', async () => {
    const rows = await t.db.query(
      `SELECT r.recipient_id FROM listing_message_routing r JOIN sellers s ON s.id = r.recipient_id WHERE s.member_status <> 'active'`,
    );
    expect(rows).toEqual([]);
  });
});
