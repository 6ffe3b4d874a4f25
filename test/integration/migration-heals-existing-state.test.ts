/**
 * Members already inactive before migration 3 installs the routing triggers (migration 1 applied
 * alone, as the guide's step-by-step option allows) still hold listings and conversations:
 * migration 3 hands them over, so the invariant holds as soon as it is installed.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyInstallation } from '../../functions/verification/verify';
import { MESSAGING_MIGRATION_NAMES } from '../../migrations';
import { createTestDatabase, migrateToLatest, type TestDatabase } from '../helpers/database';
import * as m from '../helpers/marketplace';
import { createBaseSchemaOnly, withKnex } from '../helpers/migrations';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => t?.drop());

it('migration 3 moves what members removed between migrations 1 and 3 still hold', async () => {
  await createBaseSchemaOnly(t.url);
  await withKnex(t.url, async (knex) => {
    for (const name of MESSAGING_MIGRATION_NAMES.slice(0, 2)) await knex.migrate.up({ name });
  });
  const companyId = await m.company(t.db);
  const owner = await m.seller(t.db, companyId, 'owner');
  const member = await m.seller(t.db, companyId, 'member');
  const listingId = await m.listing(t.db, member, companyId);
  const conversationId = await m.conversation(t.db, listingId, await m.buyer(t.db), member);
  await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [member]);

  await migrateToLatest(t.url);

  const [listing] = await t.db.query('SELECT current_owner_id, current_owner_type FROM listed_cars WHERE id = $1', [listingId]);
  // The owner is also the company's default message handler, which migration 3 sets up first.
  expect(listing).toEqual({ current_owner_id: owner, current_owner_type: 'company_handler' });
  const [conversation] = await t.db.query('SELECT seller_id FROM conversations WHERE id = $1', [conversationId]);
  expect(conversation).toEqual({ seller_id: owner });
  const report = await verifyInstallation(t.db);
  expect(report.checks.find((c) => c.name === 'routing invariant')?.ok).toBe(true);
});
