/**
 * Migrations of any size on deploy, proved locally: the migration Lambda driven
 * as the Provider framework drives it (onEvent, then isComplete until complete;
 * test/infra/provider-driver.ts, real CloudFormation event shapes) with slices
 * of 2 seconds over 250,000 listings, more than one slice can migrate (the
 * ownership backfill alone takes about 5 s here). In the middle, one slice
 * loses its database session mid-batch, and one is a Lambda killed mid-slice
 * (a process of its own, SIGKILLed), which fails that deploy; CloudFormation's
 * rollback and the next deploy follow. The schema ends equal to a clean run's.
 *
 * Batches of 10,000 rows (MIGRATION_BATCH_SIZE) rather than 5,000: every batch of the ownership
 * backfill scans the whole table (README: "Known limit: big backfills"), and a slice re-walks the
 * batches already done, so with 2-second slices on a busy machine small batches would spend whole
 * slices re-walking. In production a slice is 9 minutes; here 25 batches still give slices many
 * places to stop.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

vi.hoisted(() => {
  // Read by migrations/lib/safe-ddl.ts when it loads, here and in the child process.
  process.env.MIGRATION_BATCH_SIZE = '10000';
});
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { MIGRATIONS_PHYSICAL_RESOURCE_ID, STARTED_AT_KEY, createMigrationHandlers, type InvocationContext } from '../../functions/handlers/migrate';
import { RUNNER_APPLICATION_NAME } from '../../functions/database/knex-config';
import { PROJECT_ROOT } from '../../functions/database/local-postgres';
import { runMessagingMigrations, type RunnerReport } from '../../functions/migration-runner/runner';
import { verifyInstallation } from '../../functions/verification/verify';
import { MESSAGING_MIGRATION_NAMES } from '../../migrations';
import { MIGRATION_NAMES } from '../../migrations/manifest';
import { generateMarketplace, SIZES } from '../bench/generate';
import { schemaCatalog } from '../helpers/catalog';
import { killGroup } from '../helpers/child-runner';
import { createMigratedDatabase, createTestDatabase, type TestDatabase } from '../helpers/database';
import { createBaseSchemaOnly, invalidIndexCount, knexLockState } from '../helpers/migrations';
import { updateEvent, type MigrationProperties } from './cfn-events';
import { driveProvider } from './provider-driver';

const LISTINGS = 250_000;
const SLICE_MS = 2_000;
/** What a slice may take beyond its budget: connecting, the batch running at the deadline, the verification. */
const SLICE_OVERRUN_MS = 3_000;
/**
 * isComplete calls per deploy before the test gives up: about 4 are needed on a quiet machine, but a
 * 2-second slice on a machine busy with the rest of the suite spends most of itself re-walking the
 * batches already done (and each one shows it made progress, below), so the cap is generous.
 */
const MAX_SLICES = 40;
/** The waiter's queryInterval (10 s in the stack), shortened. */
const INTERVAL_MS = 250;
const PREVIOUS: MigrationProperties = { MigrationsHash: '0'.repeat(64), CreateBaseSchema: 'false' };
const THIS_DEPLOY: MigrationProperties = { MigrationsHash: 'f'.repeat(64), CreateBaseSchema: 'false' };
/** The batched ownership backfill's statement (migrations/lib/safe-ddl.ts backfillInBatches). */
const BACKFILL_BATCH = '%WITH batch AS%UPDATE listed_cars%';

let t: TestDatabase;
let clean: TestDatabase;

beforeAll(async () => {
  [t, clean] = await Promise.all([createTestDatabase(), createMigratedDatabase()]);
  await createBaseSchemaOnly(t.url);
  await generateMarketplace(t.url, { ...SIZES.quick, listings: LISTINGS, conversations: 20_000 });
});
afterAll(async () => {
  await Promise.all([t?.drop(), clean?.drop()]);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Listings the ownership backfill has not reached yet (all of them before its migration adds the column). */
async function listingsToBackfill(): Promise<number> {
  const [column] = await t.db.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'listed_cars' AND column_name = 'original_seller_id'`);
  const sql = column ? 'SELECT count(*)::int AS n FROM listed_cars WHERE original_seller_id IS NULL' : 'SELECT count(*)::int AS n FROM listed_cars';
  return (await t.db.query<{ n: number }>(sql))[0]!.n;
}

/**
 * Waits until the backfill has written at least `progress` more rows and a runner session of the
 * test database is running a batch (so a kill lands among batches that write); returns its pid.
 */
async function backfillBatchRunning(progress = 5_000, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const target = (await listingsToBackfill()) - progress;
  while ((await listingsToBackfill()) > target) {
    if (Date.now() > deadline) throw new Error(`the backfill did not progress by ${progress} rows within ${timeoutMs} ms`);
    await sleep(20);
  }
  for (;;) {
    const [row] = await t.db.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND state = 'active' AND query LIKE $3`,
      [t.name, RUNNER_APPLICATION_NAME, BACKFILL_BATCH],
    );
    if (row) return row.pid;
    if (Date.now() > deadline) throw new Error(`no backfill batch ran within ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** One isComplete call in a process of its own, SIGKILLed while it runs a backfill batch, as a crashed Lambda. */
async function sliceKilledMidBatch(event: unknown): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/infra/migrate-slice-child.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, EMS_TEST_EVENT: JSON.stringify(event), EMS_TEST_DATABASE_URL: t.url, MIGRATION_SLICE_SECONDS: '60' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  child.stderr!.resume();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await backfillBatchRunning();
  } finally {
    killGroup(child);
    await exited;
  }
  expect(lines).toContain('slice started');
  expect(lines.some((l) => l.includes('IsComplete'))).toBe(false);
}

type Fault = 'session terminated mid-batch' | 'Lambda killed mid-slice';

interface Slice {
  readonly deploy: string;
  readonly ms: number;
  readonly fault?: Fault;
  readonly answer?: unknown;
  /** Listings still to backfill after the slice. */
  readonly toBackfill: number;
}

describe('migrations of any size on deploy', () => {
  it('2-second slices over 250,000 listings, one session killed and one Lambda killed in the middle, end in the schema of a clean run', { timeout: 240_000 }, async () => {
    const reports: RunnerReport[] = [];
    const { handler } = createMigrationHandlers({
      resolveConnectionString: async () => t.url,
      migrationsHash: THIS_DEPLOY.MigrationsHash,
      limits: { sliceMs: SLICE_MS },
      runMigrations: async (options) => {
        const report = await runMessagingMigrations(options);
        reports.push(report);
        return report;
      },
    });
    const slices: Slice[] = [];
    const before = await listingsToBackfill();
    expect(before).toBe(LISTINGS);

    /** The Lambda as the Provider invokes it, with a fault injected at the chosen isComplete calls. */
    const lambda = (deploy: string, faults: Record<number, Fault> = {}) => {
      let call = 0;
      return async (event: CloudFormationCustomResourceEvent & Record<string, unknown>, context?: InvocationContext) => {
        if (!(STARTED_AT_KEY in event)) return handler(event, context);
        call += 1;
        const fault = faults[call];
        const started = Date.now();
        if (fault === 'Lambda killed mid-slice') {
          await sliceKilledMidBatch(event);
          slices.push({ deploy, ms: Date.now() - started, fault, toBackfill: await listingsToBackfill() });
          throw new Error('RequestId: 0f1e2d3c Error: Runtime exited with signal: killed');
        }
        // Any batch of this slice will do, even one re-walking rows done already: waiting for this
        // slice to write first could outlast its 2 s on a busy machine and find no batch running.
        const killer = fault === 'session terminated mid-batch' ? backfillBatchRunning(0).then((pid) => t.db.query('SELECT pg_terminate_backend($1)', [pid])) : undefined;
        const answer = await handler(event, context);
        await killer;
        slices.push({ deploy, ms: Date.now() - started, fault, answer, toBackfill: await listingsToBackfill() });
        return answer;
      };
    };

    // Deploy 1: slice 1 runs out of time inside the backfill, slice 2 loses its session mid-batch,
    // slice 3 is killed (a crashed or timed-out Lambda): the Provider reports FAILED.
    const first = await driveProvider(
      lambda('first', { 2: 'session terminated mid-batch', 3: 'Lambda killed mid-slice' }) as never,
      updateEvent(MIGRATIONS_PHYSICAL_RESOURCE_ID, THIS_DEPLOY, PREVIOUS),
      { maxCalls: MAX_SLICES, intervalMs: INTERVAL_MS },
    );
    expect(first).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/Runtime exited with signal: killed/), isCompleteCalls: 3 });
    expect(slices.map((s) => s.answer)).toEqual([{ IsComplete: false }, { IsComplete: false }, undefined]);
    expect(reports[0]!.incomplete).toEqual({ pending: expect.arrayContaining([MESSAGING_MIGRATION_NAMES[1]]), interrupted: MESSAGING_MIGRATION_NAMES[1] });
    expect(reports[1]!.failure?.message).toMatch(/terminating connection/);

    // CloudFormation's rollback: an Update back to the previous properties, while this code is still
    // deployed. Nothing is migrated (nor undone).
    const reportsBeforeRollback = reports.length;
    const rollback = await driveProvider(lambda('rollback') as never, updateEvent(MIGRATIONS_PHYSICAL_RESOURCE_ID, PREVIOUS, THIS_DEPLOY));
    expect(rollback).toMatchObject({ Status: 'SUCCESS', Data: { Skipped: 'true' } });
    expect(reports).toHaveLength(reportsBeforeRollback);

    // Deploy 2 (the same change again) carries on where deploy 1 stopped, and completes.
    const reportsBeforeSecond = reports.length;
    const second = await driveProvider(lambda('second') as never, updateEvent(MIGRATIONS_PHYSICAL_RESOURCE_ID, THIS_DEPLOY, PREVIOUS), {
      maxCalls: MAX_SLICES,
      intervalMs: INTERVAL_MS,
    });
    expect(second).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: MIGRATIONS_PHYSICAL_RESOURCE_ID,
      Data: { AppliedCount: String(MIGRATION_NAMES.length), LatestMigration: MIGRATION_NAMES.at(-1) },
    });
    expect(second.isCompleteCalls).toBeGreaterThanOrEqual(2);

    // Every slice kept to its budget (but the killed one, which had its own), and each made progress.
    const timeBound = slices.filter((s) => s.fault !== 'Lambda killed mid-slice');
    for (const slice of timeBound) expect(slice.ms, JSON.stringify(slice)).toBeLessThanOrEqual(SLICE_MS + SLICE_OVERRUN_MS);
    const remaining = slices.map((s) => s.toBackfill);
    expect(remaining[0]).toBeLessThan(before);
    expect(remaining.at(-1)).toBe(0);
    for (let i = 1; i < remaining.length; i += 1) expect(remaining[i]).toBeLessThanOrEqual(remaining[i - 1]!);
    // Deploy 2 needed more than one slice too: it stopped inside a migration (between two steps) before completing.
    expect(reports.slice(reportsBeforeSecond).filter((r) => r.incomplete?.interrupted).length).toBeGreaterThanOrEqual(1);

    // The schema a clean run produces, nothing left invalid or locked, the verification green.
    expect(await schemaCatalog(t.db)).toEqual(await schemaCatalog(clean.db));
    expect(await invalidIndexCount(t.db)).toBe(0);
    expect(await knexLockState(t.db)).toEqual([0]);
    const verification = await verifyInstallation(t.db);
    expect(verification.checks.filter((c) => !c.ok)).toEqual([]);
  });
});
