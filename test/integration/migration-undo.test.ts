/**
 * A migration that fails part-way leaves the marketplace's database as it was before it: the runner
 * and the knex CLI undo what it did (migrations/lib/undo-journal.ts) before they report the failure,
 * whatever the pre-flight let through. The failures are injected with an event trigger that raises
 * once, when a chosen statement of the migration runs, after the migration's earlier steps have
 * committed. Compared: the catalog (schemaCatalog) and every row of the base tables.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMessagingMigrations, type RunnerReport } from '../../functions/migration-runner/runner';
import { MESSAGING_MIGRATION_NAMES } from '../../migrations';
import { openJournalEntry, UNDO_JOURNAL_TABLE, undoMigration } from '../../migrations/lib/undo-journal';
import { snapshotSchema, withKnexConnection } from '../../migrations/lib/schema-snapshot';
import { reread, schemaCatalog, snapshotTables, type SchemaCatalog } from '../helpers/catalog';
import { commandEnv, runCommand } from '../helpers/cli';
import { failOnce } from '../helpers/failure-injection';
import { migrateToLatest, type TestDatabase } from '../helpers/database';
import { BASE_TABLES, seedExistingMarketplace } from '../helpers/existing-marketplace';
import { ALL_MIGRATION_NAMES, createBaseSchemaOnly, recordedMigrations, withKnex } from '../helpers/migrations';
import { createTemplateDatabase, type TemplateDatabase } from '../helpers/template-database';

const [M1, , , , M5] = MESSAGING_MIGRATION_NAMES as [string, string, string, string, string];

let marketplace: TemplateDatabase;
let reference: SchemaCatalog;
const databases: TestDatabase[] = [];

beforeAll(async () => {
  marketplace = await createTemplateDatabase(async (url, db) => {
    await createBaseSchemaOnly(url);
    await seedExistingMarketplace(db);
  });
  const clean = await copy();
  await migrateToLatest(clean.url);
  reference = await schemaCatalog(clean.db);
});
afterAll(async () => {
  await Promise.all(databases.map((t) => t.drop()));
  await marketplace?.drop();
});

async function copy(): Promise<TestDatabase> {
  const t = await marketplace.copy();
  databases.push(t);
  return t;
}

/** A copy of the marketplace with the messaging migrations before `migration` applied. */
async function copyBefore(migration: string): Promise<TestDatabase> {
  const t = await copy();
  await withKnex(t.url, async (knex) => {
    for (const name of MESSAGING_MIGRATION_NAMES.slice(0, MESSAGING_MIGRATION_NAMES.indexOf(migration))) await knex.migrate.up({ name });
  });
  return t;
}

async function journalPresent(t: TestDatabase): Promise<boolean> {
  const [row] = await t.db.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [UNDO_JOURNAL_TABLE]);
  return row!.present;
}

async function expectRunsGreenNow(t: TestDatabase) {
  const report = await runMessagingMigrations({ connectionString: t.url });
  expect(report.failure, report.failure?.message).toBeUndefined();
  expect(report.ok).toBe(true);
  expect(await recordedMigrations(t.db)).toEqual(ALL_MIGRATION_NAMES);
  expect(await schemaCatalog(t.db)).toEqual(reference);
  expect(await journalPresent(t)).toBe(false);
}

describe('a migration that fails part-way is undone by the runner before it reports the failure', () => {
  const cases = [
    { migration: M1, at: '%VIEW active_company_members%', did: "six columns on sellers, the audit table, the widened listing status constraint, its functions and triggers" },
    { migration: MESSAGING_MIGRATION_NAMES[1]!, at: '%CONCURRENTLY IF NOT EXISTS listed_cars_company_active_owner_type_idx%', did: 'three backfilled columns on listed_cars, four constraints, two indexes and a third left invalid' },
    { migration: MESSAGING_MIGRATION_NAMES[2]!, at: '%VIEW listing_message_routing%', did: 'two tables, the routing functions and the triggers on sellers, listed_cars, conversations and messages' },
    { migration: MESSAGING_MIGRATION_NAMES[3]!, at: '%CONCURRENTLY IF NOT EXISTS buyers_lower_email_idx%', did: 'the comments and four of its five indexes on sellers, conversations and its own tables' },
    { migration: M5, at: '%DROP CONSTRAINT IF EXISTS conversation_ownership_log_conversation_id_fkey%', did: 'the routing functions replaced, the old triggers and functions dropped, two constraints widened' },
    { migration: MESSAGING_MIGRATION_NAMES[6]!, at: '%GRANT SELECT ON knex_migrations%', did: 'the route functions made SECURITY DEFINER, their EXECUTE taken from PUBLIC and given to ems_route_caller' },
  ];

  it.each(cases)('$migration, failing after $did: the schema and the rows are as before it', async ({ migration, at }) => {
    const t = await copyBefore(migration);
    const applied = await recordedMigrations(t.db);
    const removeTrap = await failOnce(t, at);
    const catalog = await schemaCatalog(t.db);
    const rows = await snapshotTables(t.db, BASE_TABLES);

    const report: RunnerReport = await runMessagingMigrations({ connectionString: t.url });
    expect(report.ok).toBe(false);
    expect(report.failure?.stage).toBe('migrate');
    expect(report.failure?.message).toContain(`${migration} failed:`);
    expect(report.failure?.message).toContain('injected failure');
    expect(report.failure?.message).toMatch(/\nUndone: the \d+ object\(s\) it had created or changed are as they were before it, and it is not recorded as applied\.$/);
    expect(report.applied).toEqual([]);

    expect(await schemaCatalog(t.db)).toEqual(catalog);
    expect(await reread(t.db, rows)).toEqual(rows);
    expect(await recordedMigrations(t.db)).toEqual(applied);
    expect(await journalPresent(t)).toBe(false);

    await removeTrap();
    await expectRunsGreenNow(t);
  });
});

describe('the way back across runs', () => {
  it('a migration stopped part-way at a time limit and failing in the next run is undone to before its first attempt; what the marketplace changed meanwhile stays', async () => {
    const t = await copyBefore(M1);
    const before = await schemaCatalog(t.db);
    const rows = await snapshotTables(t.db, BASE_TABLES);

    // A long transaction of the marketplace's holds listed_cars: the first attempt adds the columns
    // to sellers, then waits on listed_cars past the time limit of its run and stops there.
    const blocker = new pg.Client({ connectionString: t.url });
    await blocker.connect();
    let first: RunnerReport;
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE listed_cars IN ACCESS SHARE MODE');
      first = await runMessagingMigrations({ connectionString: t.url, deadline: Date.now() + 1500 });
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    expect(first.incomplete?.interrupted, JSON.stringify(first)).toBe(M1);
    expect((await t.db.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'sellers' AND column_name = 'member_status'`)).length).toBe(1);
    expect(await journalPresent(t)).toBe(true);

    // Meanwhile the marketplace changes a table of its own.
    await t.db.query(`ALTER TABLE sellers ADD COLUMN nickname text`);
    await t.db.query(`CREATE INDEX listed_cars_make_idx ON listed_cars (make)`);

    const removeTrap = await failOnce(t, '%VIEW active_company_members%');
    const second = await runMessagingMigrations({ connectionString: t.url });
    expect(second.failure?.message).toMatch(/injected failure[\s\S]*\nUndone: /);
    await removeTrap();

    // As before the first attempt, but for what the marketplace did.
    await t.db.query(`DROP INDEX listed_cars_make_idx`);
    await t.db.query(`ALTER TABLE sellers DROP COLUMN nickname`);
    expect(await schemaCatalog(t.db)).toEqual(before);
    expect(await reread(t.db, rows)).toEqual(rows);
    expect(await journalPresent(t)).toBe(false);
    await expectRunsGreenNow(t);
  });

  it("the last migration failing on a resumed run: what the marketplace changed since its first attempt on other migrations' objects and its own (an overload of a messaging function's name too) stays", async () => {
    const last = MESSAGING_MIGRATION_NAMES.at(-1)!;
    const t = await copyBefore(last);
    // Its first attempt was interrupted: the journal holds the schema from before it...
    const before = await withKnex(t.url, (knex) => withKnexConnection(knex, snapshotSchema));
    // ...and since, the marketplace granted its own role what the README says, and changed its own tables.
    await t.db.query(`
      GRANT INSERT ON company_member_audit, messaging_outbox TO PUBLIC;
      GRANT SELECT, INSERT ON conversation_ownership_log TO PUBLIC;
      GRANT SELECT ON company_message_handlers, listed_cars, conversations TO PUBLIC;
      COMMENT ON TABLE companies IS 'the dealers';
      ALTER TABLE sellers ALTER COLUMN name SET DEFAULT 'unnamed';
      ALTER TABLE listed_cars DROP CONSTRAINT listed_cars_status_check;
      ALTER TABLE listed_cars ADD CONSTRAINT listed_cars_status_check
        CHECK (status IN ('draft', 'active', 'sold', 'archived', 'pending_reassignment', 'reserved'));
      CREATE FUNCTION get_member_statistics(p_company text) RETURNS integer LANGUAGE sql AS 'SELECT 42';
      CREATE VIEW marketplace_statistics AS SELECT get_member_statistics('all') AS n;
      GRANT SELECT ON listing_message_routing TO PUBLIC;
      COMMENT ON VIEW listing_message_routing IS 'the marketplace''s reports read it'`);
    const changed = await schemaCatalog(t.db);
    await withKnex(t.url, (knex) => withKnexConnection(knex, (query) => openJournalEntry(query, last, before)));

    const removeTrap = await failOnce(t, '%ems_outbox_pending%');
    const report = await runMessagingMigrations({ connectionString: t.url });
    await removeTrap();
    // Its one transaction rolled back: nothing of it to put back, and nothing of anyone else's is.
    expect(report.failure?.message).toMatch(/injected failure[\s\S]*\nNothing of it stayed: /);
    expect(await schemaCatalog(t.db)).toEqual(changed);
  });

  it("a view the attempt changed without changing its columns goes back in place, under a marketplace view over it", async () => {
    const t = await copy();
    await migrateToLatest(t.url);
    await withKnex(t.url, async (knex) => {
      const before = await withKnexConnection(knex, snapshotSchema);
      const [{ definition }] = (await t.db.query<{ definition: string }>(`SELECT pg_get_viewdef('listing_message_routing'::regclass) AS definition`)) as [{ definition: string }];
      await t.db.query(`CREATE OR REPLACE VIEW listing_message_routing AS SELECT * FROM (${definition.replace(/;\s*$/, '')}) v WHERE true`);
      await t.db.query(`CREATE VIEW marketplace_routing_report AS SELECT listing_id, recipient_id FROM listing_message_routing`);
      const result = await undoMigration(knex, MESSAGING_MIGRATION_NAMES[2]!, before, before);
      expect(result.leftovers).toEqual([]);
      expect(result.restored).toContain('view:listing_message_routing');
    });
    expect(await t.db.query(`SELECT count(*)::int AS n FROM marketplace_routing_report`)).toEqual([{ n: expect.any(Number) }]);
  });

  it('when the undo itself fails, the report says so, the journal keeps the way back, and the next run carries the migration on', async () => {
    const t = await copyBefore(M1);
    const removeFailure = await failOnce(t, '%VIEW active_company_members%');
    const removeUndoFailure = await failOnce(t, '%DROP TABLE IF EXISTS "company_member_audit"%', 'sql_drop');
    const report = await runMessagingMigrations({ connectionString: t.url });
    expect(report.failure?.message).toMatch(
      new RegExp(`\nUndoing it failed too \\(.*injected failure.*\\): what it changed stays, and ${UNDO_JOURNAL_TABLE} keeps the schema from before it\\.`),
    );
    expect(await journalPresent(t)).toBe(true);
    await removeFailure();
    await removeUndoFailure();
    await expectRunsGreenNow(t);
  });
});

describe('the knex CLI', () => {
  it('`npx knex migrate:up <file>.js` that fails part-way undoes it, says so, and exits non-zero', async () => {
    const t = await copyBefore(M1);
    const removeTrap = await failOnce(t, '%VIEW active_company_members%');
    const catalog = await schemaCatalog(t.db);
    const result = await runCommand(`npx knex migrate:up ${M1}`, commandEnv(t.url), { viaBin: true, timeoutMs: 120_000 });
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/injected failure[\s\S]*Undone: the \d+ object\(s\) it had created or changed are as they were before it/);
    expect(await schemaCatalog(t.db)).toEqual(catalog);
    expect(await recordedMigrations(t.db)).not.toContain(M1);
    await removeTrap();
  });
});

describe('undoMigration puts back every kind of object', () => {
  it('grants, comments, defaults, NOT NULL, replaced and new functions, views, triggers, types, sequences, constraints and indexes', async () => {
    const t = await copy();
    await t.db.query(`
      CREATE FUNCTION marketplace_label(p_id uuid) RETURNS text LANGUAGE sql AS $$ SELECT 'listing ' || p_id $$;
      CREATE INDEX listed_cars_make_model_idx ON listed_cars (make, model);
      ALTER TABLE listed_cars ADD CONSTRAINT listed_cars_year_check CHECK (year > 1900);
      COMMENT ON TABLE sellers IS 'People who sell';`);
    const catalog = await schemaCatalog(t.db);
    await withKnex(t.url, async (knex) => {
      const before = await withKnexConnection(knex, snapshotSchema);
      await t.db.query(`
        GRANT SELECT ON sellers TO PUBLIC;
        GRANT UPDATE (name) ON buyers TO PUBLIC;
        REVOKE EXECUTE ON FUNCTION marketplace_label(uuid) FROM PUBLIC;
        COMMENT ON TABLE sellers IS 'Changed';
        COMMENT ON COLUMN buyers.email IS 'New';
        ALTER TABLE listed_cars ALTER COLUMN make SET DEFAULT 'Volvo', ALTER COLUMN model DROP NOT NULL;
        CREATE OR REPLACE FUNCTION marketplace_label(p_id uuid) RETURNS text LANGUAGE sql AS $$ SELECT 'car ' || p_id $$;
        CREATE FUNCTION test_new_function() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
        CREATE TRIGGER test_new_trigger BEFORE UPDATE ON companies FOR EACH ROW EXECUTE FUNCTION test_new_function();
        CREATE VIEW test_new_view AS SELECT id FROM companies;
        CREATE TYPE test_new_type AS ENUM ('a', 'b');
        CREATE SEQUENCE test_new_sequence;
        CREATE TABLE test_new_table (id int PRIMARY KEY);
        ALTER TABLE sellers ADD COLUMN test_new_column text;
        ALTER TABLE listed_cars DROP CONSTRAINT listed_cars_year_check;
        ALTER TABLE listed_cars ADD CONSTRAINT test_new_check CHECK (price_cents >= 0) NOT VALID;
        DROP INDEX listed_cars_make_model_idx;
        CREATE INDEX test_new_index ON conversations (created_at);`);
      // A name no footprint knows: what changed since `before` is what it touched.
      const result = await undoMigration(knex, 'not_a_migration.js', before, before);
      expect(result.leftovers).toEqual([]);
      expect(result.restored.length).toBeGreaterThan(15);
    });
    expect(await schemaCatalog(t.db)).toEqual(catalog);
  });
});
