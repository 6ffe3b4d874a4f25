/**
 * The migrations on a marketplace that already has data: existing rows are
 * backfilled, base data is never changed, and rollback removes exactly what
 * the migrations added (up → down → up leaves the base data as it was).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyInstallation } from '../../functions/verification/verify';
import {
  EXPECTED_COLUMNS,
  EXPECTED_FUNCTIONS,
  EXPECTED_INDEXES,
  EXPECTED_TABLES,
  EXPECTED_TRIGGERS,
  EXPECTED_VIEWS,
} from '../../migrations/lib/expected-objects';
import { reread, schemaCatalog, snapshotTables, type SchemaCatalog, type TableSnapshot } from '../helpers/catalog';
import { createTestDatabase, migrateToLatest, type TestDatabase } from '../helpers/database';
import { BASE_TABLES, EXISTING_COMPANY_IDS, seedExistingMarketplace } from '../helpers/existing-marketplace';
import { ALL_MIGRATION_NAMES, BASELINE_MIGRATION, createBaseSchemaOnly, recordedMigrations, rollbackAll } from '../helpers/migrations';

let t: TestDatabase;
let counts: Record<string, number>;
let baseData: Record<string, TableSnapshot>;
let baseCatalog: SchemaCatalog;
let migratedCatalog: SchemaCatalog;

beforeAll(async () => {
  t = await createTestDatabase();
  await createBaseSchemaOnly(t.url);
  counts = await seedExistingMarketplace(t.db);
  baseData = await snapshotTables(t.db, BASE_TABLES);
  baseCatalog = await schemaCatalog(t.db);
});
afterAll(async () => t?.drop());

async function expectBaseDataUnchanged() {
  const now = await reread(t.db, baseData);
  for (const table of BASE_TABLES) {
    expect(now[table]!.rows, `contents of ${table}`).toEqual(baseData[table]!.rows);
  }
}

/** Every messaging object that still exists, by kind (all lists empty when rolled back). */
async function leftoverMessagingObjects() {
  const q = async (sql: string, params: unknown[]) => (await t.db.query<{ name: string }>(sql, params)).map((r) => r.name).sort();
  return {
    tables: await q(`SELECT t AS name FROM unnest($1::text[]) t WHERE to_regclass(t) IS NOT NULL`, [[...EXPECTED_TABLES]]),
    columns: await q(
      `SELECT table_name || '.' || column_name AS name FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name || '.' || column_name = ANY($1)`,
      [Object.entries(EXPECTED_COLUMNS).flatMap(([table, cols]) => cols.map((c) => `${table}.${c}`))],
    ),
    functions: await q(
      `SELECT proname AS name FROM pg_proc WHERE pronamespace = 'public'::regnamespace
          AND (proname = ANY($1) OR proname LIKE 'ems\\_%' OR prorettype = 'trigger'::regtype)`,
      [[...EXPECTED_FUNCTIONS]],
    ),
    views: await q(`SELECT table_name AS name FROM information_schema.views WHERE table_schema = 'public' OR table_name = ANY($1)`, [
      [...EXPECTED_VIEWS],
    ]),
    triggers: await q(
      `SELECT tgrelid::regclass::text || '.' || tgname AS name FROM pg_trigger WHERE NOT tgisinternal
          AND (tgname = ANY($1) OR tgrelid::regclass::text = ANY($2))`,
      [Object.values(EXPECTED_TRIGGERS).flat(), [...BASE_TABLES]],
    ),
    indexes: await q(`SELECT relname AS name FROM pg_class WHERE relkind = 'i' AND relname = ANY($1)`, [[...EXPECTED_INDEXES]]),
    constraints: await q(
      `SELECT conname AS name FROM pg_constraint
        WHERE conname IN ('sellers_member_status_check', 'listed_cars_current_owner_type_check', 'listed_cars_ownership_complete_check',
                          'listed_cars_current_owner_id_fkey', 'listed_cars_original_seller_id_fkey')`,
      [],
    ),
  };
}

const NOTHING_LEFT = { tables: [], columns: [], functions: [], views: [], triggers: [], indexes: [], constraints: [] };

describe('migrating a marketplace that already has data', () => {
  it('the seed is realistic: companies of every shape, independent sellers, every listing status, open and closed conversations', async () => {
    expect(counts).toMatchObject({ companies: 5, sellers: 20 });
    expect(counts.messages).toBeGreaterThan(1000);
    const shape = await t.db.query<{ k: string; n: number }>(`
      SELECT 'status:' || status AS k, count(*)::int AS n FROM listed_cars GROUP BY status
      UNION ALL SELECT 'conversation:' || status, count(*)::int FROM conversations GROUP BY status
      UNION ALL SELECT 'independent', count(*)::int FROM sellers WHERE company_id IS NULL
      UNION ALL SELECT 'conversation without seller', count(*)::int FROM conversations WHERE seller_id IS NULL
      UNION ALL SELECT 'company listing without company_id', count(*)::int FROM listed_cars l JOIN sellers s ON s.id = l.seller_id
                 WHERE s.company_id IS NOT NULL AND l.company_id IS NULL`);
    const byKey = Object.fromEntries(shape.map((r) => [r.k, r.n]));
    for (const key of ['status:draft', 'status:active', 'status:sold', 'status:archived', 'conversation:open', 'conversation:closed']) {
      expect(byKey[key], key).toBeGreaterThan(0);
    }
    expect(byKey.independent).toBe(3);
    expect(byKey['conversation without seller']).toBeGreaterThan(0);
    expect(byKey['company listing without company_id']).toBeGreaterThan(0);
    expect(await recordedMigrations(t.db)).toEqual([BASELINE_MIGRATION]);
  });

  it('migrates to latest and goes green', async () => {
    const report = await migrateToLatest(t.url);
    expect(report.alreadyApplied).toEqual([BASELINE_MIGRATION]);
    expect(report.applied.map((a) => a.name)).toEqual(ALL_MIGRATION_NAMES.slice(1));
    migratedCatalog = await schemaCatalog(t.db);
  });

  it('every listing is owned by its seller: current_owner_id = seller_id, type seller, original_seller_id = seller_id', async () => {
    const rows = await t.db.query<{ id: string; seller_id: string; current_owner_id: string; current_owner_type: string; original_seller_id: string }>(
      'SELECT id, seller_id, current_owner_id, current_owner_type, original_seller_id FROM listed_cars ORDER BY id',
    );
    expect(rows).toHaveLength(counts.listed_cars!);
    const wrong = rows.filter(
      (r) => r.current_owner_id !== r.seller_id || r.current_owner_type !== 'seller' || r.original_seller_id !== r.seller_id,
    );
    expect(wrong).toEqual([]);
  });

  it('every seller is an active member, with no removal or reactivation recorded', async () => {
    const rows = await t.db.query(
      `SELECT member_status, removed_at, removed_by, removal_reason, reactivated_at, reactivated_by, count(*)::int AS n
         FROM sellers GROUP BY 1, 2, 3, 4, 5, 6`,
    );
    expect(rows).toEqual([
      { member_status: 'active', removed_at: null, removed_by: null, removal_reason: null, reactivated_at: null, reactivated_by: null, n: 20 },
    ]);
    expect(await t.db.query('SELECT * FROM company_member_audit')).toEqual([]);
  });

  it('each company with an admin or an owner got exactly one default message handler, one of its active admins or owners', async () => {
    const rows = await t.db.query<{ company_id: string; has_lead: boolean; handlers: number; handler_ok: boolean }>(`
      SELECT c.id AS company_id,
             EXISTS (SELECT 1 FROM sellers s WHERE s.company_id = c.id AND s.role IN ('owner', 'admin')) AS has_lead,
             (SELECT count(*)::int FROM company_message_handlers h WHERE h.company_id = c.id) AS handlers,
             coalesce((SELECT bool_and(h.is_active AND s.company_id = c.id AND s.role IN ('owner', 'admin') AND s.member_status = 'active')
                         FROM company_message_handlers h JOIN sellers s ON s.id = h.seller_id WHERE h.company_id = c.id), true) AS handler_ok
        FROM companies c ORDER BY c.id`);
    expect(rows.map((r) => r.company_id)).toEqual([...EXISTING_COMPANY_IDS].sort());
    for (const row of rows) {
      expect(row.handlers, `handlers of company ${row.company_id}`).toBe(row.has_lead ? 1 : 0);
      expect(row.handler_ok, `handler of company ${row.company_id}`).toBe(true);
    }
    expect(rows.filter((r) => r.has_lead)).toHaveLength(3);
    const [{ n }] = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM company_message_handlers')) as [{ n: number }];
    expect(n).toBe(3);
  });

  it('the base columns of every base table are exactly as before, row for row', async () => {
    await expectBaseDataUnchanged();
  });

  it('rollback of all migrations removes every messaging object and leaves the base schema and data as before', async () => {
    await rollbackAll(t.url);
    expect(await recordedMigrations(t.db)).toEqual([]);
    expect(await leftoverMessagingObjects()).toEqual(NOTHING_LEFT);
    expect(await schemaCatalog(t.db)).toEqual(baseCatalog);
    await expectBaseDataUnchanged();
  });

  it('migrating up again goes green with the same schema, and the base data is unchanged', async () => {
    await migrateToLatest(t.url);
    const report = await verifyInstallation(t.db);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(await schemaCatalog(t.db)).toEqual(migratedCatalog);
    await expectBaseDataUnchanged();
    const [{ n }] = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM company_message_handlers')) as [{ n: number }];
    expect(n).toBe(3);
  });

  it('down → up once more: same base data, same schema, green', async () => {
    await rollbackAll(t.url);
    expect(await leftoverMessagingObjects()).toEqual(NOTHING_LEFT);
    await expectBaseDataUnchanged();
    await migrateToLatest(t.url);
    expect(await schemaCatalog(t.db)).toEqual(migratedCatalog);
    await expectBaseDataUnchanged();
  });
});
