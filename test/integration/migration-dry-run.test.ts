/**
 * `npm run migrate:messaging -- --dry-run` (functions/migration-runner/dry-run.ts): the pre-flight
 * and what would be applied (each pending migration in order, what it creates, changes and drops,
 * the rows its backfills would change, the tables its index builds scan, what it would hand over),
 * touching nothing: the schema and every row are identical afterwards, knex's bookkeeping tables
 * absent from a fresh marketplace stay absent, and it needs no lock beyond a plain SELECT's. Exit 0
 * when the migrations would run, 1 when the pre-flight refuses, 2 for usage.
 *
 * Also: the long steps it reports (migrations/lib/long-steps.ts) are exactly the backfills and index
 * builds each migration runs.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DryRunReport, planMessagingMigrations } from '../../functions/migration-runner/dry-run';
import { RUNNER_LOCK_KEY } from '../../functions/migration-runner/runner';
import * as baseline from '../../migrations/20250101000000_base_marketplace_schema';
import { MESSAGING_MIGRATION_NAMES, MIGRATIONS } from '../../migrations';
import { type LongStep, withProgress } from '../../migrations/lib/progress';
import { MIGRATION_LONG_STEPS } from '../../migrations/lib/long-steps';
import { schemaCatalog } from '../helpers/catalog';
import { commandEnv, runCommand } from '../helpers/cli';
import { createTestDatabase, type TestDatabase, databasesDroppedAfterAll } from '../helpers/database';
import { seedBulkMarketplace } from '../helpers/existing-marketplace';
import { recordedMigrations, withKnex } from '../helpers/migrations';
import { contentFingerprint } from '../helpers/snapshot';

const ALL = MIGRATIONS.map((m) => m.name);
const [BASELINE, M1, M2] = ALL as [string, string, string];

const database = databasesDroppedAfterAll();

const flat = (text: string) => text.replace(/\s+/g, ' ');

const dryRun = (t: TestDatabase, args = '') => runCommand(`npm run -s migrate:messaging -- --dry-run ${args}`, commandEnv(t.url), { timeoutMs: 120_000 });

/** Everything a dry run must leave as it was: the schema (knex's tables included) and every row. */
async function state(t: TestDatabase) {
  const knexTables = await t.db.query(`SELECT relname FROM pg_class WHERE relname LIKE 'knex%' ORDER BY 1`);
  return { catalog: await schemaCatalog(t.db), rows: await contentFingerprint(t.db), knexTables, recorded: await recordedMigrations(t.db) };
}

/** The marketplace's own tables made as the marketplace made them: no knex bookkeeping. */
async function marketplaceWithoutKnex(t: TestDatabase): Promise<void> {
  await withKnex(t.url, (knex) => baseline.up(knex));
}

describe('a marketplace nothing was applied to', () => {
  let t: TestDatabase;
  let expected: { listings: number; movedListings: number; movedConversations: number };
  let before: Awaited<ReturnType<typeof state>>;

  beforeAll(async () => {
    t = await database();
    await marketplaceWithoutKnex(t);
    await seedBulkMarketplace(t.db, { companies: 4, sellersPerCompany: 5, listings: 3000, conversations: 400 });
    // A member who moved to another company by plain SQL and still holds the first company's
    // listings and conversations: migration 5 hands them over.
    const [mover] = await t.db.query<{ id: string }>(
      `SELECT s.id FROM sellers s WHERE s.role = 'member' AND EXISTS (SELECT 1 FROM conversations c WHERE c.seller_id = s.id AND c.status = 'open') ORDER BY s.id LIMIT 1`,
    );
    await t.db.query(`UPDATE sellers SET company_id = (SELECT id FROM companies WHERE id <> sellers.company_id ORDER BY id LIMIT 1) WHERE id = $1`, [mover!.id]);
    const [counts] = await t.db.query<{ listings: number; moved_listings: number; moved_conversations: number }>(
      `SELECT (SELECT count(*)::int FROM listed_cars) AS listings,
              (SELECT count(*)::int FROM listed_cars WHERE seller_id = $1 AND status = 'active') AS moved_listings,
              (SELECT count(*)::int FROM conversations WHERE seller_id = $1 AND status = 'open') AS moved_conversations`,
      [mover!.id],
    );
    expected = { listings: counts!.listings, movedListings: counts!.moved_listings, movedConversations: counts!.moved_conversations };
    expect(expected.movedListings).toBeGreaterThan(0);
    expect(expected.movedConversations).toBeGreaterThan(0);
    before = await state(t);
    expect(before.knexTables).toEqual([]);
  });

  it('prints every pending migration in order, what it does, and its long steps with their rows; exit 0', async () => {
    const result = await dryRun(t);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    // Long lines wrap: compare the words.
    const out = flat(result.stdout);
    expect(out).toContain('dry run (read-only: nothing is changed)');
    expect(out).toContain('Already applied none');
    expect(out).toContain('Pre-flight everything the migrations rely on is in place');
    expect(out).toContain(`Would apply ${ALL.length} migrations, in this order:`);
    const positions = ALL.map((name, i) => out.indexOf(` ${i + 1}. ${name}`));
    expect(positions.every((p) => p > 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(out).toContain('records itself only: the base tables are present');
    expect(out).toMatch(/creates +1 table: company_member_audit \(14 columns, 5 constraints\)/);
    expect(out).toMatch(/changes +1 constraint: listed_cars\.listed_cars_status_check/);
    expect(out).toMatch(/drops +1 constraint: conversation_ownership_log\.conversation_ownership_log_conversation_id_fkey/);
    expect(out).toContain(`backfill listed_cars (current_owner_id, original_seller_id): 3,000 rows to change, in 1 committed batch of 5,000 (MIGRATION_BATCH_SIZE)`);
    expect(out).toMatch(/index listed_cars_current_owner_active_idx on listed_cars: (about )?3,000 rows, \d+ kB to scan, built concurrently/);
    expect(out).toMatch(/index sellers_lower_email_idx on sellers: (about )?20 rows, [\d.]+ kB to scan/);
    expect(out).toContain('index company_message_handlers_active_idx on company_message_handlers: a table an earlier migration of this run creates');
    expect(out).toContain('hand-over nothing: no member can be inactive before migration 1 adds member_status');
    expect(out).toContain(
      `hand-over ${expected.movedListings} active listings and ${expected.movedConversations} open conversations held by someone the company-scoped rule does not allow`,
    );
    expect(out).toContain('✅ The migrations would run: `npm run migrate:messaging` applies them.');
  });

  it('--json: the same as data', async () => {
    const result = await dryRun(t, '--json');
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as DryRunReport;
    expect(report).toMatchObject({ dryRun: true, ok: true, baseTables: 'present', alreadyApplied: [], batchSize: 5000 });
    expect(report.pending.map((m) => m.name)).toEqual(ALL);
    const steps = report.pending.find((m) => m.name === M2)!.steps;
    expect(steps[0]).toMatchObject({ kind: 'backfill', table: 'listed_cars', rows: expected.listings, rowsFrom: 'counted' });
    expect(steps.slice(1).map((s) => s.kind)).toEqual(['index', 'index', 'index']);
    expect(steps[1]!.tableBytes).toBeGreaterThan(0);
    const handOver = report.pending.find((m) => m.name === '20261130120000_company_scoped_routing.js')!.steps[0]!;
    expect(handOver).toMatchObject({ kind: 'hand-over', rows: expected.movedListings, conversations: expected.movedConversations });
    expect(report.pending.find((m) => m.name === M1)!.creates).toContain('column:sellers.member_status');
  });

  it('needs no lock beyond a SELECT\'s: it runs while another session holds every base table in EXCLUSIVE mode (which lets only reads through)', async () => {
    const holder = new pg.Client({ connectionString: t.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE ${baseline.BASE_TABLES.join(', ')} IN EXCLUSIVE MODE`);
      const report = await planMessagingMigrations({ connectionString: t.url });
      expect(report.ok, report.failure?.message).toBe(true);
      expect(report.pending).toHaveLength(ALL.length);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });

  it('behind DDL (an ACCESS EXCLUSIVE lock) it stops after its lock timeout, saying why, rather than queue', async () => {
    const ddl = new pg.Client({ connectionString: t.url });
    await ddl.connect();
    try {
      await ddl.query('BEGIN');
      await ddl.query('LOCK TABLE listed_cars IN ACCESS EXCLUSIVE MODE');
      await expect(planMessagingMigrations({ connectionString: t.url, lockTimeoutMs: 300 })).rejects.toThrow(
        'The dry run waited 0.3 s for a table someone is changing (DDL holds its lock: a migration, a VACUUM FULL, ...) and stopped. Nothing was changed',
      );
    } finally {
      await ddl.query('ROLLBACK');
      await ddl.end();
    }
  });

  it('says so when another runner holds the runner lock (and waits for nothing)', async () => {
    const runner = new pg.Client({ connectionString: t.url });
    await runner.connect();
    try {
      await runner.query('SELECT pg_advisory_lock($1)', [RUNNER_LOCK_KEY.toString()]);
      const report = await planMessagingMigrations({ connectionString: t.url });
      expect(report.notes).toContainEqual(expect.stringContaining('Another migration runner (or a deploy) is at work on this database now'));
    } finally {
      await runner.end();
    }
    expect((await planMessagingMigrations({ connectionString: t.url })).notes.filter((n) => n.includes('Another migration runner'))).toEqual([]);
  });

  it('changed nothing: the schema, every row, and still no knex_migrations', async () => {
    expect(await state(t)).toEqual(before);
    const [{ present } = { present: true }] = await t.db.query<{ present: boolean }>(`SELECT to_regclass('knex_migrations') IS NOT NULL AS present`);
    expect(present).toBe(false);
  });
});

describe('a marketplace the pre-flight refuses', () => {
  it('exit 1 with the pre-flight report, and nothing changed', async () => {
    const t = await database();
    await marketplaceWithoutKnex(t);
    await t.db.query(`ALTER TABLE listed_cars ADD CONSTRAINT listed_cars_known_status CHECK (status IN ('draft', 'active', 'sold', 'archived'))`);
    const before = await state(t);
    const result = await dryRun(t);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stdout).toContain('❌ The migrations would not run: the pre-flight refuses this database.');
    expect(result.stdout).toContain("The CHECK constraint listed_cars_known_status on listed_cars.status would refuse 'pending_reassignment'");
    expect(result.stdout).toContain('Fix:  ALTER TABLE listed_cars DROP CONSTRAINT listed_cars_known_status;');
    const json = await dryRun(t, '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, failure: { stage: 'preflight' } });
    expect(await state(t)).toEqual(before);
  });
});

describe('part-way, then up to date; each migration runs exactly the long steps the dry run names', () => {
  let t: TestDatabase;
  const observed: Record<string, LongStep[]> = {};
  /** Applies `names` one at a time through knex, recording the long steps each starts. */
  const apply = (names: readonly string[]) =>
    withKnex(t.url, async (knex) => {
      for (const name of names) {
        const steps: LongStep[] = [];
        await withProgress({ intervalMs: 3_600_000, report: () => undefined, started: (step) => steps.push(step) }, () => knex.migrate.up({ name }));
        observed[name] = steps;
      }
    });

  beforeAll(async () => {
    t = await database();
    await marketplaceWithoutKnex(t);
    await seedBulkMarketplace(t.db, { companies: 3, sellersPerCompany: 4, listings: 600, conversations: 120 });
    await apply([BASELINE, M1]);
  });

  it('after migration 1, with a member removed who still holds listings: the rest, and what migration 3 hands over', async () => {
    const [removed] = await t.db.query<{ id: string }>(
      `SELECT s.id FROM sellers s WHERE s.role = 'member' AND EXISTS (SELECT 1 FROM conversations c WHERE c.seller_id = s.id AND c.status = 'open') ORDER BY s.id LIMIT 1`,
    );
    await t.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [removed!.id]);
    const [held] = await t.db.query<{ listings: number; conversations: number }>(
      `SELECT (SELECT count(*)::int FROM listed_cars WHERE seller_id = $1 AND status = 'active') AS listings,
              (SELECT count(*)::int FROM conversations WHERE seller_id = $1 AND status = 'open') AS conversations`,
      [removed!.id],
    );
    const before = await state(t);
    const result = await dryRun(t, '--json');
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as DryRunReport;
    expect(report.alreadyApplied).toEqual([BASELINE, M1]);
    expect(report.pending.map((m) => m.name)).toEqual(ALL.slice(2));
    const handOver = report.pending.find((m) => m.name === ALL[3])!.steps[0]!;
    expect(handOver).toMatchObject({ kind: 'hand-over', members: 1, rows: held!.listings, conversations: held!.conversations });
    expect(report.pending.find((m) => m.name === M2)!.steps[0]).toMatchObject({ kind: 'backfill', rows: 600 });
    const text = await dryRun(t);
    expect(flat(text.stdout)).toContain(`hand-over ${held!.listings} active listings and ${held!.conversations} open conversations that 1 member no longer active still hold`);
    expect(await state(t)).toEqual(before);
  });

  it('up to date: nothing to apply, exit 0', async () => {
    await apply(ALL.slice(2));
    const result = await dryRun(t);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('✅ Nothing to apply: every migration is applied.');
  });

  it('the backfills and index builds of migrations/lib/long-steps.ts are exactly those each migration runs', () => {
    expect(MESSAGING_MIGRATION_NAMES.filter((name) => !Object.hasOwn(MIGRATION_LONG_STEPS, name)), 'migrations without an entry').toEqual([]);
    const declared = Object.fromEntries(
      MESSAGING_MIGRATION_NAMES.map((name) => [
        name,
        MIGRATION_LONG_STEPS[name]!.flatMap((step): LongStep[] =>
          step.kind === 'backfill'
            ? [{ kind: 'backfill', table: step.table, name: step.table, condition: step.condition }]
            : step.kind === 'index'
              ? [{ kind: 'index', table: step.table, name: step.name }]
              : [],
        ),
      ]),
    );
    const ran = Object.fromEntries(MESSAGING_MIGRATION_NAMES.map((name) => [name, observed[name]]));
    expect(ran, `migrations/lib/long-steps.ts is out of date; what the migrations run:\n${JSON.stringify(ran, null, 2)}`).toEqual(declared);
  });
});

describe('usage', () => {
  it('--dry-run with --rollback, --yes, or an action is a usage error (exit 2), before any connection', async () => {
    const env = commandEnv('postgres://nobody:secret@127.0.0.1:1/nowhere');
    for (const [args, message] of [
      ['--dry-run --rollback', '--dry-run does not go with --rollback'],
      ['--dry-run --yes', '--yes only goes with --rollback'],
      ['--dry-run status', "Unexpected argument 'status' (actions go with --stack)"],
      ['--dry-run --stack EnhancedMessaging-dev-Data status', '--dry-run takes no action or migration name'],
      ['--dry-run --stack EnhancedMessaging-dev-Data --with-base-schema', '--with-base-schema does not go with --dry-run --stack'],
    ] as const) {
      const result = await runCommand(`npm run -s migrate:messaging -- ${args}`, env);
      expect(result.code, args).toBe(2);
      expect(result.stderr, args).toContain(message);
      expect(result.stderr, args).toContain('usage: ');
    }
  });
});
