/**
 * `npm run migrate:messaging` (runMessagingMigrations): pre-flight, a runner
 * killed at chosen points of each migration and run again, tamper detection.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runMessagingMigrations, type RunnerReport } from '../../functions/migration-runner/runner';
import { verifyInstallation } from '../../functions/verification/verify';
import { MESSAGING_MIGRATION_NAMES } from '../../migrations';
import { EQUIVALENT_EARLIER_CHECKSUMS } from '../../migrations/lib/checksums';
import { BASE_TABLES } from '../../migrations/20250101000000_base_marketplace_schema';
import { schemaCatalog, type SchemaCatalog } from '../helpers/catalog';
import { endSessionsOfDeadRunner, killGroup, startChildRunner, waitForBlockedMigration, type ChildRunner } from '../helpers/child-runner';
import { commandEnv, runCommand } from '../helpers/cli';
import { createMigratedDatabase, createTestDatabase, migrateToLatest, type TestDatabase } from '../helpers/database';
import { createTemplateDatabase, type TemplateDatabase } from '../helpers/template-database';
import { seedBulkMarketplace } from '../helpers/existing-marketplace';
import {
  ALL_MIGRATION_NAMES,
  BASELINE_MIGRATION,
  createBaseSchemaOnly,
  invalidIndexCount,
  knexLockState,
  recordedMigrations,
  withKnex,
} from '../helpers/migrations';

const MIGRATIONS_WITH_EARLIER_SOURCE = Object.keys(EQUIVALENT_EARLIER_CHECKSUMS);

const databases: TestDatabase[] = [];
async function database(): Promise<TestDatabase> {
  const t = await createTestDatabase();
  databases.push(t);
  return t;
}
afterAll(async () => {
  await Promise.all(databases.map((t) => t.drop()));
});

const [M1, M2, M3, M4] = MESSAGING_MIGRATION_NAMES as [string, string, string, string];

const failedChecks = (report: RunnerReport) => report.verification?.checks.filter((c) => !c.ok) ?? [];

async function expectCleanlyMigrated(t: TestDatabase, report: RunnerReport) {
  expect(report.failure, JSON.stringify(report.failure)).toBeUndefined();
  expect(failedChecks(report)).toEqual([]);
  expect(report.ok).toBe(true);
  expect(await recordedMigrations(t.db)).toEqual(ALL_MIGRATION_NAMES);
  expect(await invalidIndexCount(t.db)).toBe(0);
  expect(await knexLockState(t.db)).toEqual([0]);
}

describe('pre-flight', () => {
  it('an empty database without createBaseSchema fails naming all six base tables, and applies nothing', async () => {
    const t = await database();
    const report = await runMessagingMigrations({ connectionString: t.url });
    expect(report.ok).toBe(false);
    expect(report.failure?.stage).toBe('preflight');
    for (const table of BASE_TABLES) expect(report.failure?.message).toContain(table);
    expect(report.failure?.message).toContain('--with-base-schema');
    expect(report.applied).toEqual([]);
    expect(await recordedMigrations(t.db)).toEqual([]);
    const [{ n }] = (await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace`,
    )) as [{ n: number }];
    expect(n).toBe(0);
  });

  it.each([false, true])('a database missing only `buyers` fails naming buyers alone (createBaseSchema %s)', async (createBaseSchema) => {
    const t = await database();
    await createBaseSchemaOnly(t.url);
    await t.db.query('DROP TABLE buyers CASCADE');
    const report = await runMessagingMigrations({ connectionString: t.url, createBaseSchema });
    expect(report.ok).toBe(false);
    expect(report.failure?.stage).toBe('preflight');
    expect(report.failure?.message).toMatch(/Base tables missing: buyers\./);
    for (const table of BASE_TABLES.filter((b) => b !== 'buyers')) expect(report.failure?.message).not.toContain(table);
    expect(report.applied).toEqual([]);
    expect(await recordedMigrations(t.db)).toEqual([BASELINE_MIGRATION]);
    expect((await t.db.query(`SELECT 1 FROM information_schema.columns WHERE column_name = 'member_status'`)).length).toBe(0);
  });
});

describe('a runner killed mid-way, then run again', () => {
  // 20 companies (owner, admin, members) and 10 000 listings: with batches of 50 the backfill takes a while.
  const BULK = { companies: 20, sellersPerCompany: 10, listings: 10_000, conversations: 2_000 };
  let reference: SchemaCatalog;
  let child: ChildRunner | undefined;
  let blocker: pg.Client | undefined;

  let marketplace: TemplateDatabase;

  beforeAll(async () => {
    // The base schema and its data, filled once and copied for each run.
    marketplace = await createTemplateDatabase(async (url, db) => {
      await createBaseSchemaOnly(url);
      await seedBulkMarketplace(db, BULK);
    });
    const clean = await copy();
    await migrateToLatest(clean.url);
    reference = await schemaCatalog(clean.db);
  });
  afterAll(async () => marketplace?.drop());

  async function copy(): Promise<TestDatabase> {
    const t = await marketplace.copy();
    databases.push(t);
    return t;
  }
  afterEach(async () => {
    if (child) killGroup(child.process);
    child = undefined;
    await blocker?.end().catch(() => undefined);
    blocker = undefined;
  });

  /**
   * Another session of the marketplace (connected before the runner starts, to
   * react at once) holding locks: `statements` run inside an open transaction.
   */
  async function hold(...statements: string[]) {
    await blocker!.query('BEGIN');
    for (const statement of statements) await blocker!.query(statement);
  }

  interface Interruption {
    /** Locks another session takes before the runner starts (statements of one open transaction). */
    holdFromStart?: string[];
    /** Sets up the moment to kill at; resolves when it has come. */
    reach(t: TestDatabase, runner: ChildRunner): Promise<void>;
    /** What the killed run left behind, checked before the run again. */
    leftBehind(t: TestDatabase): Promise<void>;
    /** Killed inside a migration for sure: knex's lock row is still set. */
    insideAMigration: boolean;
    /** MIGRATION_BATCH_SIZE of the killed run: small to make the backfill last. */
    batchSize?: number;
  }

  async function killAndRecover(interruption: Interruption, before?: (t: TestDatabase) => Promise<void>) {
    const t = await copy();
    blocker = new pg.Client({ connectionString: t.url, application_name: 'ems-test-blocker' });
    await blocker.connect();
    if (interruption.holdFromStart) await hold(...interruption.holdFromStart);
    child = startChildRunner(
      ['--with-base-schema'],
      // A long lock timeout keeps a blocked statement waiting instead of retrying.
      commandEnv(t.url, { MIGRATION_BATCH_SIZE: String(interruption.batchSize ?? 5000), MIGRATION_LOCK_TIMEOUT: '60s' }),
    );
    const running = child;
    await Promise.race([
      interruption.reach(t, running),
      running.exited.then(() => {
        throw new Error(`the runner finished before the moment to kill it:\n${running.lines.join('\n')}`);
      }),
    ]);
    const exit = await running.kill();
    expect(exit.signal, `the runner finished before it was killed:\n${running.lines.join('\n')}`).toBe('SIGKILL');
    expect(await recordedMigrations(t.db)).not.toEqual(ALL_MIGRATION_NAMES);
    await before?.(t);
    await endSessionsOfDeadRunner(t.db, t.name);
    await blocker.query('ROLLBACK');
    await interruption.leftBehind(t);
    // knex's lock row, left set by the killed run when it died inside a migration.
    if (interruption.insideAMigration) expect(await knexLockState(t.db)).toEqual([1]);

    const report = await runMessagingMigrations({ connectionString: t.url, createBaseSchema: true });
    await expectCleanlyMigrated(t, report);
    expect(await schemaCatalog(t.db)).toEqual(reference);
    const [ownership] = await t.db.query(`
      SELECT count(*)::int AS listings,
             count(*) FILTER (WHERE current_owner_id = seller_id AND current_owner_type = 'seller' AND original_seller_id = seller_id)::int AS owned_by_seller
        FROM listed_cars`);
    expect(ownership).toEqual({ listings: BULK.listings, owned_by_seller: BULK.listings });
    const [handlers] = await t.db.query(`SELECT count(*)::int AS handlers, count(DISTINCT company_id)::int AS companies FROM company_message_handlers`);
    expect(handlers).toEqual({ handlers: BULK.companies, companies: BULK.companies });
    return { t, report };
  }

  it(`inside ${M1}: after the sellers columns, while widening the listing status constraint; a second runner meanwhile fails cleanly`, async () => {
    await killAndRecover(
      {
        insideAMigration: true,
        holdFromStart: ['LOCK TABLE listed_cars IN ACCESS SHARE MODE'],
        async reach(t) {
          expect(await waitForBlockedMigration(t.db, t.name, /listed_cars_status_check/)).toContain('listed_cars_status_check');
        },
        async leftBehind(t) {
          expect(await recordedMigrations(t.db)).toEqual([BASELINE_MIGRATION]);
          expect((await t.db.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'sellers' AND column_name = 'member_status'`)).length).toBe(1);
        },
      },
      // The killed run's session still waits on the lock: a runner started now must refuse, applying nothing.
      async (t) => {
        const meanwhile = await runMessagingMigrations({ connectionString: t.url, createBaseSchema: true, lockWaitMs: 5_000 });
        expect(meanwhile.ok).toBe(false);
        expect(meanwhile.failure?.stage).toBe('lock');
        expect(meanwhile.applied).toEqual([]);
        expect(await recordedMigrations(t.db)).toEqual([BASELINE_MIGRATION]);
      },
    );
  });

  it(`inside ${M2}: part-way through the batched backfill`, async () => {
    await killAndRecover({
      insideAMigration: true,
      batchSize: 50,
      async reach(t) {
        // Once the backfill has committed its first batches, hold the last listing: the backfill stops there.
        for (let i = 0; ; i += 1) {
          const rows = await t.db
            .query<{ n: number }>('SELECT count(*)::int AS n FROM listed_cars WHERE original_seller_id IS NOT NULL')
            .catch((error: { code?: string }) => {
              if (error.code === '42703') return [{ n: 0 }]; // the column is not there yet
              throw error;
            });
          if (rows[0]!.n > 0) break;
          if (i > 3000) throw new Error('the backfill did not start');
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        await hold('SELECT id FROM listed_cars ORDER BY id DESC LIMIT 1 FOR UPDATE');
        expect(await waitForBlockedMigration(t.db, t.name, /WITH batch AS/)).toContain('WITH batch AS');
      },
      async leftBehind(t) {
        expect(await recordedMigrations(t.db)).toEqual([BASELINE_MIGRATION, M1]);
        const [{ done }] = (await t.db.query<{ done: number }>(
          'SELECT count(*)::int AS done FROM listed_cars WHERE original_seller_id IS NOT NULL',
        )) as [{ done: number }];
        expect(done).toBeGreaterThan(0);
        expect(done).toBeLessThan(BULK.listings);
      },
    });
  });

  it(`inside ${M3}: tables and routing functions created, triggers not yet`, async () => {
    await killAndRecover({
      insideAMigration: true,
      holdFromStart: ['LOCK TABLE messages IN ROW EXCLUSIVE MODE'],
      async reach(t) {
        expect(await waitForBlockedMigration(t.db, t.name, /TRIGGER messages_route_buyer_message/)).toMatch(/TRIGGER messages_route_buyer_message/);
      },
      async leftBehind(t) {
        expect(await recordedMigrations(t.db)).toEqual([BASELINE_MIGRATION, M1, M2]);
        expect((await t.db.query(`SELECT 1 FROM pg_class WHERE relname = 'company_message_handlers'`)).length).toBe(1);
        expect((await t.db.query(`SELECT 1 FROM pg_trigger WHERE tgname = 'sellers_member_status_reassign'`)).length).toBe(0);
      },
    });
  });

  it(`inside ${M4}: during CREATE INDEX CONCURRENTLY, leaving an invalid index`, async () => {
    await killAndRecover({
      insideAMigration: true,
      // Nothing before migration 4's last index build touches buyers: a writer's lock held from the
      // start stops exactly that build, after it has registered its (still invalid) index.
      holdFromStart: ['LOCK TABLE buyers IN ROW EXCLUSIVE MODE'],
      async reach(t, runner) {
        await runner.waitForLine(new RegExp(`Applying ${M4}`));
        expect(await waitForBlockedMigration(t.db, t.name, /CREATE INDEX CONCURRENTLY IF NOT EXISTS buyers_lower_email_idx/)).toMatch(/CREATE INDEX CONCURRENTLY/);
      },
      async leftBehind(t) {
        expect(await recordedMigrations(t.db)).toEqual([BASELINE_MIGRATION, M1, M2, M3]);
        expect(await invalidIndexCount(t.db)).toBeGreaterThan(0);
      },
    });
  });

  it.each([30, 400])('%i ms after the runner reported its status', async (delay) => {
    await killAndRecover({
      insideAMigration: false,
      batchSize: 50,
      async reach(_t, runner) {
        await runner.waitForLine(/^Status: /);
        await new Promise((resolve) => setTimeout(resolve, delay));
      },
      async leftBehind() {},
    });
  });
});

describe('runners at once, stale locks, and long transactions', () => {
  for (const runners of [2, 3]) {
    it(`${runners} runners started at once apply each migration exactly once`, async () => {
      const t = await database();
      const reports = await Promise.all(
        Array.from({ length: runners }, () => runMessagingMigrations({ connectionString: t.url, createBaseSchema: true })),
      );
      for (const report of reports) expect(report.ok, JSON.stringify(report.failure)).toBe(true);
      expect(reports.filter((r) => r.applied.length > 0)).toHaveLength(1);
      expect(reports.flatMap((r) => r.applied.map((a) => a.name)).sort()).toEqual([...ALL_MIGRATION_NAMES].sort());
      const counts = await t.db.query<{ name: string; n: number }>('SELECT name, count(*)::int AS n FROM knex_migrations GROUP BY name');
      expect(counts.every((c) => c.n === 1)).toBe(true);
      expect(await knexLockState(t.db)).toEqual([0]);
      expect(await invalidIndexCount(t.db)).toBe(0);
    });
  }

  it('a knex lock left set by a dead process is cleared by the runner (plain knex refuses)', async () => {
    const t = await database();
    await createBaseSchemaOnly(t.url);
    await t.db.query('UPDATE knex_migrations_lock SET is_locked = 1');
    await expect(withKnex(t.url, (knex) => knex.migrate.latest())).rejects.toThrow(/already locked/);
    const report = await runMessagingMigrations({ connectionString: t.url, createBaseSchema: true });
    await expectCleanlyMigrated(t, report);
  });

  it('an index build cut off by the lock timeout (a long transaction holds a snapshot) is rebuilt, never left invalid', async () => {
    const t = await database();
    const blocker = new pg.Client({ connectionString: t.url });
    await blocker.connect();
    try {
      await createBaseSchemaOnly(t.url);
      await blocker.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await blocker.query('SELECT 1');
      const release = setTimeout(() => void blocker.query('COMMIT'), 1500);
      const result = await runCommand(
        'npx tsx functions/migration-runner/cli.ts --with-base-schema',
        commandEnv(t.url, { MIGRATION_LOCK_TIMEOUT: '200ms', MIGRATION_LOCK_ATTEMPTS: '30' }),
      );
      clearTimeout(release);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(await invalidIndexCount(t.db)).toBe(0);
      expect((await verifyInstallation(t.db)).ok).toBe(true);
    } finally {
      await blocker.end();
    }
  });
});

describe('tamper detection', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createMigratedDatabase();
    databases.push(t);
  });

  it('a changed checksum fails "migration checksums", naming that migration, and nothing else', async () => {
    const [{ checksum }] = (await t.db.query<{ checksum: string }>('SELECT checksum FROM knex_migrations_checksums WHERE name = $1', [M2])) as [
      { checksum: string },
    ];
    await t.db.query(`UPDATE knex_migrations_checksums SET checksum = 'x' WHERE name = $1`, [M2]);
    try {
      const report = await verifyInstallation(t.db);
      expect(report.ok).toBe(false);
      const failed = report.checks.filter((c) => !c.ok);
      expect(failed.map((c) => c.name)).toEqual(['migration checksums']);
      expect(failed[0]!.detail).toContain(M2);
      for (const other of ALL_MIGRATION_NAMES.filter((n) => n !== M2)) expect(failed[0]!.detail).not.toContain(other);
    } finally {
      await t.db.query('UPDATE knex_migrations_checksums SET checksum = $2 WHERE name = $1', [M2, checksum]);
    }
    expect((await verifyInstallation(t.db)).ok).toBe(true);
  });

  it("a database that applied a migration's earlier, equivalent source (SQL since moved to files) is not reported as tampered with", async () => {
    const name = MIGRATIONS_WITH_EARLIER_SOURCE[0]!;
    const [{ checksum }] = (await t.db.query<{ checksum: string }>('SELECT checksum FROM knex_migrations_checksums WHERE name = $1', [name])) as [
      { checksum: string },
    ];
    expect(EQUIVALENT_EARLIER_CHECKSUMS[name]).not.toContain(checksum); // the current source's is recorded
    await t.db.query('UPDATE knex_migrations_checksums SET checksum = $2 WHERE name = $1', [name, EQUIVALENT_EARLIER_CHECKSUMS[name]![0]]);
    try {
      expect((await verifyInstallation(t.db)).checks.find((c) => c.name === 'migration checksums')).toMatchObject({ ok: true });
    } finally {
      await t.db.query('UPDATE knex_migrations_checksums SET checksum = $2 WHERE name = $1', [name, checksum]);
    }
  });

  it('a dropped view fails "views created", naming it; the runner then reports a verify failure', async () => {
    await t.db.query('DROP VIEW listing_message_routing');
    const report = await verifyInstallation(t.db);
    expect(report.ok).toBe(false);
    const failed = report.checks.filter((c) => !c.ok);
    expect(failed.find((c) => c.name === 'views created')?.detail).toBe('missing: listing_message_routing');
    // The installed-objects check may report it too; nothing else fails.
    for (const check of failed) expect(check.detail, check.name).toMatch(/^missing: (view )?listing_message_routing$/);
    const run = await runMessagingMigrations({ connectionString: t.url, createBaseSchema: true });
    expect(run.ok).toBe(false);
    expect(run.failure?.stage).toBe('verify');
    expect(run.applied).toEqual([]);
  });
});
