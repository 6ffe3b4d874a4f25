/**
 * A fresh database migrated to the latest schema passes the guide's
 * "Post-Migration Verification" SQL, run verbatim, and a second run is a no-op.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMessagingMigrations, type RunnerReport } from '../../functions/migration-runner/runner';
import { GUIDE_VERIFICATION_SQL, verifyInstallation } from '../../functions/verification/verify';
import { MESSAGING_MIGRATION_NAMES } from '../../migrations';
import { createTestDatabase, migrateToLatest, type TestDatabase } from '../helpers/database';
import { guideVerificationSql, readGuide } from '../helpers/guide';
import * as m from '../helpers/marketplace';
import { ALL_MIGRATION_NAMES, recordedMigrations } from '../helpers/migrations';

const guide = readGuide();

let t: TestDatabase;
let firstRun: RunnerReport;
beforeAll(async () => {
  t = await createTestDatabase();
  firstRun = await migrateToLatest(t.url);
});
afterAll(async () => t?.drop());

const names = async (sql: string) => (await t.db.query(sql)).map((row) => String(Object.values(row)[0])).sort();

describe('a fresh database migrated to latest', () => {
  it('applies the baseline and the guide four migrations, in order, and records them', async () => {
    expect(firstRun.ok).toBe(true);
    expect(firstRun.alreadyApplied).toEqual([]);
    expect(firstRun.applied.map((a) => a.name)).toEqual(ALL_MIGRATION_NAMES);
    expect(ALL_MIGRATION_NAMES.slice(1)).toEqual(MESSAGING_MIGRATION_NAMES);
    expect(await recordedMigrations(t.db)).toEqual(ALL_MIGRATION_NAMES);
  });

  it.skipIf(guide === null)('GUIDE_VERIFICATION_SQL is the guide SQL, character for character', () => {
    const fromGuide = guideVerificationSql(guide!);
    // Five checks: tables, columns (two statements), functions, views, routing function.
    expect(fromGuide).toHaveLength(6);
    expect(fromGuide.slice(0, 5)).toEqual([
      GUIDE_VERIFICATION_SQL.tables,
      GUIDE_VERIFICATION_SQL.sellerColumns,
      GUIDE_VERIFICATION_SQL.listingColumns,
      GUIDE_VERIFICATION_SQL.functions,
      GUIDE_VERIFICATION_SQL.views,
    ]);
    expect(fromGuide[5]).toBe(`SELECT * FROM get_listing_message_recipient('your-listing-id-here');`);
  });

  it('1. guide "Check Tables Created" finds all three tables', async () => {
    expect(await names(GUIDE_VERIFICATION_SQL.tables)).toEqual(['company_member_audit', 'company_message_handlers', 'conversation_ownership_log']);
  });

  it('2. guide "Check Columns Added" finds sellers.member_status and the three listed_cars columns', async () => {
    expect(await names(GUIDE_VERIFICATION_SQL.sellerColumns)).toEqual(['member_status']);
    expect(await names(GUIDE_VERIFICATION_SQL.listingColumns)).toEqual(['current_owner_id', 'current_owner_type', 'original_seller_id']);
  });

  it('3. guide "Check Functions Created" finds all three functions', async () => {
    expect(await names(GUIDE_VERIFICATION_SQL.functions)).toEqual([
      'get_listing_message_recipient',
      'get_member_statistics',
      'update_conversation_ownership',
    ]);
  });

  it('4. guide "Check Views Created" finds all three views', async () => {
    expect(await names(GUIDE_VERIFICATION_SQL.views)).toEqual(['active_company_members', 'active_company_message_handlers', 'listing_message_routing']);
  });

  it("5. guide \"Test Message Routing Function\" with a real listing id answers one row naming the listing's seller", async () => {
    const companyId = await m.company(t.db);
    const sellerId = await m.seller(t.db, companyId, 'owner');
    const listingId = await m.listing(t.db, sellerId, companyId);
    const template = guide ? guideVerificationSql(guide)[5]! : `SELECT * FROM get_listing_message_recipient('your-listing-id-here');`;
    const rows = await t.db.query(template.replace('your-listing-id-here', listingId));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ recipient_id: sellerId, routing_reason: 'owner_active', company_id: companyId, listing_id: listingId });
    expect(await t.db.query(template.replace('your-listing-id-here', randomUUID()))).toEqual([]);
  });

  it('the shared verification is green', async () => {
    const report = await verifyInstallation(t.db);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  });

  it('running the runner again when up to date applies nothing and stays green', async () => {
    const again = await runMessagingMigrations({ connectionString: t.url, createBaseSchema: true });
    expect(again.failure).toBeUndefined();
    expect(again.ok).toBe(true);
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toEqual(ALL_MIGRATION_NAMES);
    expect(again.verification?.checks.every((c) => c.ok)).toBe(true);
    expect(await recordedMigrations(t.db)).toEqual(ALL_MIGRATION_NAMES);
  });
});
