/**
 * The migration custom resource handler (functions/handlers/migrate.ts),
 * driven as the Provider framework drives it (onEvent, then isComplete until
 * complete; test/infra/provider-driver.ts) with CloudFormation Create / Update /
 * Delete events against a real PostgreSQL; the secret lookup is replaced by
 * the test database's URL. Outcomes are what CloudFormation would receive.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PgDatabase } from '../../functions/database/pg-adapter';
import { connectionStringAs, type LoginUser } from '../../functions/migration-runner/login-roles';
import { READER_ROLE, ROUTE_CALLER_ROLE } from '../../migrations/lib/database-roles';
import {
  connectionStringFromSecret,
  createMigrationHandlers,
  MIGRATION_RUNS_METRIC,
  MIGRATION_SLICES_METRIC,
  MIGRATIONS_APPLIED_METRIC,
  MIGRATIONS_PHYSICAL_RESOURCE_ID,
  migrationLambdaLimits,
  STARTED_AT_KEY,
  type MigrationHandlerOptions,
} from '../../functions/handlers/migrate';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { RunnerOptions, RunnerReport } from '../../functions/migration-runner/runner';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../infra/names';
import { verifyInstallation } from '../../functions/verification/verify';
import { MIGRATION_NAMES } from '../../migrations/manifest';
import { createMigratedDatabase, createTestDatabase, type TestDatabase } from '../helpers/database';
import * as m from '../helpers/marketplace';
import { createEvent, deleteEvent, updateEvent, type MigrationProperties } from './cfn-events';
import { driveProvider, type DriveOptions } from './provider-driver';

let t: TestDatabase;
const first: MigrationProperties = { MigrationsHash: 'a'.repeat(64), CreateBaseSchema: 'true' };
const firstProperties = first;
const second: MigrationProperties = { MigrationsHash: 'b'.repeat(64), CreateBaseSchema: 'true' };
const fast = { initialDelayMs: 5, maxDelayMs: 20, deadlineMs: 5_000, connectTimeoutMs: 1_000 };

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

const appliedCount = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM knex_migrations'))[0]!.n;

/** The Provider's whole exchange for `event`, through the Lambda's one entry point. */
const deploy = (options: MigrationHandlerOptions, event: Parameters<typeof driveProvider>[1], drive?: DriveOptions) =>
  driveProvider(createMigrationHandlers(options).handler, event, drive);

describe('the migration custom resource handler', () => {
  it('Create: migrates a brand-new database (base schema on) and the verification is green', async () => {
    const outcome = await deploy({ resolveConnectionString: async () => t.url }, createEvent(first));
    expect(outcome).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: MIGRATIONS_PHYSICAL_RESOURCE_ID,
      Data: { AppliedCount: String(MIGRATION_NAMES.length), LatestMigration: MIGRATION_NAMES.at(-1) },
      isCompleteCalls: 1,
    });
    // onEvent's clock stays between the handler's calls: CloudFormation never receives it.
    expect(outcome.Data).not.toHaveProperty(STARTED_AT_KEY);
    const applied = await t.db.query<{ name: string }>('SELECT name FROM knex_migrations ORDER BY id');
    expect(applied.map((r) => r.name)).toEqual([...MIGRATION_NAMES]);
    expect((await verifyInstallation(t.db)).ok).toBe(true);
  });

  it('Update with a changed hash on an up-to-date database: succeeds, applies nothing, same physical id', async () => {
    const company = await m.company(t.db);
    const owner = await m.seller(t.db, company, 'owner');
    await m.listing(t.db, owner, company);
    const outcome = await deploy({ resolveConnectionString: async () => t.url }, updateEvent(MIGRATIONS_PHYSICAL_RESOURCE_ID, second, first));
    expect(outcome).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: MIGRATIONS_PHYSICAL_RESOURCE_ID,
      Data: { AppliedCount: String(MIGRATION_NAMES.length), LatestMigration: MIGRATION_NAMES.at(-1) },
    });
    expect(await appliedCount()).toBe(MIGRATION_NAMES.length);
  });

  it('Update when the verification fails: FAILED (the deploy fails), naming the failed check', async () => {
    const broken = await createMigratedDatabase();
    try {
      await broken.db.query('DROP VIEW active_company_members');
      const outcome = await deploy({ resolveConnectionString: async () => broken.url }, updateEvent(MIGRATIONS_PHYSICAL_RESOURCE_ID, second, first));
      expect(outcome.Status).toBe('FAILED');
      expect(outcome.Reason).toMatch(/Migrations failed at verify.*views created \(missing: active_company_members\)/s);
    } finally {
      await broken.drop();
    }
  });

  it("makes the functions' login users once migrated, as their secrets hold them now (after a rotation: the clone)", async () => {
    const suffix = randomBytes(3).toString('hex');
    const users: LoginUser[] = [
      { username: `ems_api_clone_${suffix}`, password: randomBytes(18).toString('base64url'), memberOf: ROUTE_CALLER_ROLE },
      { username: `ems_verifier_${suffix}`, password: randomBytes(18).toString('base64url'), memberOf: READER_ROLE },
    ];
    try {
      const outcome = await deploy(
        { resolveConnectionString: async () => t.url, resolveLoginUsers: async () => users },
        updateEvent(MIGRATIONS_PHYSICAL_RESOURCE_ID, second, first),
      );
      expect(outcome.Status).toBe('SUCCESS');
      const api = new PgDatabase(connectionStringAs(t.url, users[0]!), { max: 1, applicationName: 'ems-test' });
      const verifier = new PgDatabase(connectionStringAs(t.url, users[1]!), { max: 1, applicationName: 'ems-test' });
      try {
        const [health] = await api.query<{ r: { status: string } }>('SELECT api_health($1::text[]) AS r', [[]]);
        expect(health?.r.status).toBe('ok');
        await expect(api.query('SELECT * FROM sellers')).rejects.toThrow(/permission denied/);
        expect((await verifyInstallation(verifier)).ok).toBe(true);
      } finally {
        await api.close();
        await verifier.close();
      }
    } finally {
      for (const user of users) await t.db.query(`DROP ROLE IF EXISTS ${user.username}`);
    }
  });

  it('fails the deploy, naming the user, when a secret names a privileged role (the master user)', async () => {
    const [me] = await t.db.query<{ name: string }>('SELECT current_user AS name');
    const outcome = await deploy(
      {
        resolveConnectionString: async () => t.url,
        resolveLoginUsers: async () => [{ username: me!.name, password: randomBytes(18).toString('base64url'), memberOf: ROUTE_CALLER_ROLE }],
      },
      updateEvent(MIGRATIONS_PHYSICAL_RESOURCE_ID, second, first),
    );
    expect(outcome).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining(`Refusing to provision ${me!.name}`) });
  });

  it('Create on a database without the marketplace tables and CreateBaseSchema false: FAILED at pre-flight', async () => {
    const empty = await createTestDatabase();
    try {
      const outcome = await deploy({ resolveConnectionString: async () => empty.url }, createEvent({ ...first, CreateBaseSchema: 'false' }));
      expect(outcome).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/Migrations failed at preflight: Base tables missing/) });
    } finally {
      await empty.drop();
    }
  });

  it('keeps asking for the connection while the database is unreachable, then FAILED after the bounded retries', async () => {
    const resolve = vi.fn(async () => 'postgresql://nobody:secret@127.0.0.1:1/nothing');
    const run = vi.fn();
    const started = Date.now();
    const outcome = await deploy({ resolveConnectionString: resolve, connectRetry: { ...fast, maxAttempts: 4 }, runMigrations: run }, createEvent(first));
    expect(outcome).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/Cannot connect to the database after 4 attempt\(s\)/) });
    expect(resolve).toHaveBeenCalledTimes(4);
    expect(run).not.toHaveBeenCalled();
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('connects once the database answers (e.g. resumed from auto-pause, or the secret rotated)', async () => {
    const urls = ['postgresql://nobody:secret@127.0.0.1:1/nothing', 'postgresql://nobody:secret@127.0.0.1:1/nothing', t.url];
    const resolve = vi.fn(async () => urls.shift() ?? t.url);
    const outcome = await deploy({ resolveConnectionString: resolve, connectRetry: fast }, updateEvent(MIGRATIONS_PHYSICAL_RESOURCE_ID, first, second));
    expect(resolve).toHaveBeenCalledTimes(3);
    expect(outcome).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: MIGRATIONS_PHYSICAL_RESOURCE_ID });
  });

  /** Options whose (stubbed) run migrated nothing and whose verification reported `checks`. */
  const reportingVerification = (checks: { name: string; ok: boolean; detail: string }[]): MigrationHandlerOptions => ({
      resolveConnectionString: async () => t.url,
      runMigrations: async () => ({
        ok: false,
        postgresVersion: '17',
        alreadyApplied: [...MIGRATION_NAMES],
        applied: [],
        verification: { ok: false, checks },
        failure: { stage: 'verify', message: 'Verification failed after migrating.' },
        totalMs: 1,
      }),
    });

  it('keeps the failure reason short enough for the CloudFormation response (4 KB)', async () => {
    const detail = `missing: ${'index listed_cars_some_very_long_index_name_idx, '.repeat(200)}`;
    const outcome = await deploy(reportingVerification([{ name: 'triggers, indexes and columns', ok: false, detail }]), createEvent(first));
    expect(outcome.Status).toBe('FAILED');
    expect(outcome.Reason).toMatch(/^Migrations failed at verify: .*triggers, indexes and columns/s);
    expect(outcome.Reason!.length).toBeLessThanOrEqual(1500);
  });

  it.each([
    ['data breaking the routing invariant', { name: 'routing invariant', ok: false, detail: 'violations (first 1): listing x -> y' }],
    ['a database already migrated by newer code (a rollback)', { name: 'migration status', ok: false, detail: '6 applied; applied but unknown to this code: 20260101000000_next.js' }],
  ])('%s does not fail the deploy (the scheduled verification alarms on it)', async (_name, check) => {
    const options = reportingVerification([{ name: 'tables created', ok: true, detail: '3 of 3 present' }, check]);
    await expect(deploy(options, updateEvent(MIGRATIONS_PHYSICAL_RESOURCE_ID, second, first))).resolves.toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: MIGRATIONS_PHYSICAL_RESOURCE_ID,
    });
  });

  it('refuses a CreateBaseSchema property that is not a boolean string in onEvent, before any waiting', async () => {
    const resolve = vi.fn(async () => t.url);
    const outcome = await deploy({ resolveConnectionString: resolve }, createEvent({ ...first, CreateBaseSchema: 'yes' as 'true' }));
    expect(outcome).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/CreateBaseSchema must be 'true' or 'false'/), isCompleteCalls: 0 });
    expect(resolve).not.toHaveBeenCalled();
  });

  it('Delete: succeeds without touching the database, and the data stays', async () => {
    const before = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM listed_cars');
    const resolve = vi.fn(async () => t.url);
    const outcome = await deploy({ resolveConnectionString: resolve }, deleteEvent(MIGRATIONS_PHYSICAL_RESOURCE_ID, first));
    expect(outcome).toEqual({ Status: 'SUCCESS', PhysicalResourceId: MIGRATIONS_PHYSICAL_RESOURCE_ID, Data: {}, isCompleteCalls: 1 });
    expect(resolve).not.toHaveBeenCalled();
    const tables = await t.db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()
        AND table_name IN ('listed_cars', 'company_member_audit', 'conversation_ownership_log', 'knex_migrations')`,
    );
    expect(tables).toHaveLength(4);
    expect(await t.db.query('SELECT count(*)::int AS n FROM listed_cars')).toEqual(before);
    expect(await appliedCount()).toBe(MIGRATION_NAMES.length);
  });
});

type EmfLine = { _aws: { CloudWatchMetrics: { Namespace: string }[] }; [key: string]: unknown };

/** Runs `work` with a Metrics that prints (the test config silences the shared one) and returns its EMF lines. */
async function capturingEmf(work: (metrics: Metrics) => Promise<void>): Promise<EmfLine[]> {
  const previous = process.env.POWERTOOLS_METRICS_DISABLED;
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  const written: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  try {
    await work(new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME }));
  } finally {
    stdout.mockRestore();
    if (previous === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
    else process.env.POWERTOOLS_METRICS_DISABLED = previous;
  }
  return written
    .join('')
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as EmfLine);
}

describe('slices (isComplete), with a stubbed runner', () => {
  const done: RunnerReport = {
    ok: true,
    postgresVersion: '17',
    alreadyApplied: MIGRATION_NAMES.slice(0, -1),
    applied: [{ name: MIGRATION_NAMES.at(-1)!, ms: 1 }],
    verification: { ok: true, checks: [] },
    totalMs: 1,
  };
  const stoppedAtDeadline: RunnerReport = {
    ok: false,
    postgresVersion: '17',
    alreadyApplied: MIGRATION_NAMES.slice(0, 2),
    applied: [],
    verification: null,
    incomplete: { pending: MIGRATION_NAMES.slice(2), interrupted: MIGRATION_NAMES[2] },
    totalMs: 1,
  };
  const failedWith = (stage: string, message: string): RunnerReport => ({
    ...stoppedAtDeadline,
    incomplete: undefined,
    failure: { stage, message },
  });
  /** A runner answering `reports` in turn, recording what each slice was given. */
  const scripted = (...reports: RunnerReport[]) => {
    const calls: RunnerOptions[] = [];
    const runMigrations = async (options: RunnerOptions) => {
      calls.push(options);
      return reports[Math.min(calls.length - 1, reports.length - 1)]!;
    };
    return { calls, runMigrations };
  };

  it.each([
    ['stopped at its deadline', stoppedAtDeadline],
    ['another runner holds the lock', failedWith('lock', 'Another migration runner still holds the lock after 5 s; nothing was applied.')],
    ['its connection was terminated', failedWith('migrate', '20250622121000_messaging_ownership_tracking.js failed: terminating connection due to administrator command')],
    ['its connection dropped', failedWith('migrate', 'Connection terminated unexpectedly')],
  ])('a slice that %s answers "not complete", and the next slice carries on', async (_name, first) => {
    const runner = scripted(first, done);
    const outcome = await deploy({ resolveConnectionString: async () => t.url, runMigrations: runner.runMigrations }, createEvent(firstProperties));
    expect(outcome).toMatchObject({ Status: 'SUCCESS', isCompleteCalls: 2, Data: { AppliedCount: String(MIGRATION_NAMES.length) } });
    expect(runner.calls).toHaveLength(2);
  });

  it('a genuine migration failure is FAILED at once, not retried', async () => {
    const runner = scripted(failedWith('migrate', 'x.js failed: column "nope" does not exist'), done);
    const outcome = await deploy({ resolveConnectionString: async () => t.url, runMigrations: runner.runMigrations }, createEvent(firstProperties));
    expect(outcome).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/column "nope" does not exist/), isCompleteCalls: 1 });
  });

  it("gives each slice a deadline: its budget, or less when the Lambda has less time left than that plus the reserve", async () => {
    const runner = scripted(stoppedAtDeadline, done);
    const limits = { sliceMs: 60_000, reserveMs: 360_000 };
    const remaining = [900_000, 380_000];
    const before = Date.now();
    await deploy({ resolveConnectionString: async () => t.url, runMigrations: runner.runMigrations, limits }, createEvent(firstProperties), {
      context: () => ({ getRemainingTimeInMillis: () => remaining[0]! }),
      between: (call) => {
        if (call === 2) remaining.shift();
      },
    });
    const [a, b] = runner.calls.map((c) => c.deadline! - before);
    expect(a).toBeGreaterThanOrEqual(60_000);
    expect(a).toBeLessThan(62_000);
    expect(b).toBeGreaterThanOrEqual(20_000);
    expect(b).toBeLessThan(22_000);
    // Waiting for another runner's lock stays inside the slice.
    expect(runner.calls[0]!.lockWaitMs).toBeLessThanOrEqual(60_000);
  });

  it('FAILED once the deploy has migrated for longer than its limit, saying the work done is kept', async () => {
    const runner = scripted(stoppedAtDeadline);
    const { isComplete, onEvent } = createMigrationHandlers({ resolveConnectionString: async () => t.url, runMigrations: runner.runMigrations, limits: { deployMs: 45 * 60_000 } });
    const event = createEvent(firstProperties);
    const answer = await onEvent(event);
    const started = Date.parse(answer[STARTED_AT_KEY]);
    expect(Math.abs(started - Date.now())).toBeLessThan(5_000);
    await expect(isComplete({ ...event, ...answer })).resolves.toEqual({ IsComplete: false });
    const late = { ...event, ...answer, [STARTED_AT_KEY]: new Date(Date.now() - 46 * 60_000).toISOString() };
    await expect(isComplete(late)).rejects.toThrow(/did not finish within 45 minutes of this deploy.*kept and the next deploy carries on/s);
    expect(runner.calls).toHaveLength(1);
    // A slice that runs into the limit says what is still pending.
    const nearly = { ...event, ...answer, [STARTED_AT_KEY]: new Date(Date.now() - 45 * 60_000 + 50).toISOString() };
    const slow = createMigrationHandlers({
      resolveConnectionString: async () => t.url,
      runMigrations: async () => {
        await new Promise((r) => setTimeout(r, 100));
        return stoppedAtDeadline;
      },
    });
    await expect(slow.isComplete(nearly)).rejects.toThrow(new RegExp(`still pending: ${MIGRATION_NAMES[2]}`));
  });

  it('an event naming other migrations than the code carries (a rollback with this code still deployed) completes without migrating', async () => {
    const runner = scripted(done);
    const outcome = await deploy(
      { resolveConnectionString: async () => t.url, runMigrations: runner.runMigrations, migrationsHash: 'c'.repeat(64) },
      updateEvent(MIGRATIONS_PHYSICAL_RESOURCE_ID, firstProperties, second),
    );
    expect(outcome).toMatchObject({ Status: 'SUCCESS', Data: { Skipped: 'true' } });
    expect(runner.calls).toHaveLength(0);
    // The same code with its own hash migrates.
    const own = await deploy(
      { resolveConnectionString: async () => t.url, runMigrations: runner.runMigrations, migrationsHash: firstProperties.MigrationsHash },
      updateEvent(MIGRATIONS_PHYSICAL_RESOURCE_ID, firstProperties, second),
    );
    expect(own).toMatchObject({ Status: 'SUCCESS', Data: { AppliedCount: String(MIGRATION_NAMES.length) } });
    expect(runner.calls).toHaveLength(1);
  });

  it('emits one MigrationSlices per slice by outcome, the migrations applied, and one MigrationRuns per deploy', async () => {
    const emf = await capturingEmf(async (metrics) => {
      const runner = scripted(stoppedAtDeadline, done);
      await deploy({ resolveConnectionString: async () => t.url, runMigrations: runner.runMigrations, metrics }, createEvent(firstProperties));
      const failing = scripted(failedWith('migrate', 'x.js failed: syntax error'));
      await deploy({ resolveConnectionString: async () => t.url, runMigrations: failing.runMigrations, metrics }, createEvent(firstProperties));
    });
    const values = (name: string) => emf.filter((line) => name in line).map((line) => [line.outcome ?? null, line[name]]);
    expect(values(MIGRATION_SLICES_METRIC)).toEqual([['continuing', 1], ['complete', 1], ['failed', 1]]);
    expect(values(MIGRATION_RUNS_METRIC)).toEqual([['succeeded', 1], ['failed', 1]]);
    expect(values(MIGRATIONS_APPLIED_METRIC)).toEqual([[null, 0], [null, 1], [null, 0]]);
    for (const line of emf) {
      expect(line._aws.CloudWatchMetrics[0]!.Namespace).toBe(METRICS_NAMESPACE);
      expect(line.service).toBe(SERVICE_NAME);
    }
  });

  it('reads the limits and the hash the stack sets, refusing malformed ones', () => {
    expect(migrationLambdaLimits({ MIGRATION_SLICE_SECONDS: '540', MIGRATION_DEPLOY_MINUTES: '45', EMS_MIGRATIONS_HASH: 'a'.repeat(64) })).toEqual({
      limits: { sliceMs: 540_000, deployMs: 2_700_000 },
      migrationsHash: 'a'.repeat(64),
    });
    expect(migrationLambdaLimits({})).toEqual({ limits: {} });
    expect(() => migrationLambdaLimits({ MIGRATION_SLICE_SECONDS: '9min' })).toThrow(/MIGRATION_SLICE_SECONDS="9min": expected a positive whole number/);
    expect(() => migrationLambdaLimits({ MIGRATION_DEPLOY_MINUTES: '0' })).toThrow(/MIGRATION_DEPLOY_MINUTES/);
    expect(() => migrationLambdaLimits({ EMS_MIGRATIONS_HASH: 'x' })).toThrow(/EMS_MIGRATIONS_HASH/);
  });
});

describe('connectionStringFromSecret', () => {
  it('builds a TLS-verifying URL from the cluster secret, escaping the password', () => {
    const url = connectionStringFromSecret({ host: 'c.cluster-x.eu-west-1.rds.amazonaws.com', port: 5432, username: 'ems_admin', password: 'p:a/s?s#w%rd', dbname: 'ems' });
    expect(url).toBe('postgresql://ems_admin:p%3Aa%2Fs%3Fs%23w%25rd@c.cluster-x.eu-west-1.rds.amazonaws.com:5432/ems?sslmode=verify-full');
    const parsed = new URL(url);
    expect(decodeURIComponent(parsed.password)).toBe('p:a/s?s#w%rd');
  });

  it('falls back to the given database name and refuses an incomplete secret', () => {
    expect(connectionStringFromSecret({ host: 'h', port: '5432', username: 'u', password: 'p' }, 'ems')).toBe('postgresql://u:p@h:5432/ems?sslmode=verify-full');
    expect(() => connectionStringFromSecret({ host: 'h', port: 5432, username: 'u', password: '' })).toThrow('The database secret has no password');
  });
});
