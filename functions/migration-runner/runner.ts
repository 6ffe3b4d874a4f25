/**
 * The guide's recommended migration runner (`npm run migrate:messaging`), also
 * what the migration Lambda runs: pre-flight, status, apply pending migrations
 * in order (timed), verify, report.
 *
 * Only one runner works on a database at a time: it holds a PostgreSQL session
 * advisory lock, which the server releases by itself if the runner dies, so a
 * killed runner never leaves a lock that needs a manual unlock.
 */
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { MIGRATIONS, messagingMigrationSource } from '../../migrations';
import { BASE_TABLES, REQUIRED_BASE_COLUMNS } from '../../migrations/20250101000000_base_marketplace_schema';
import { CLI_APPLICATION_NAME, MIGRATIONS_TABLE, migrationKnexConfig, RUNNER_APPLICATION_NAME } from '../database/knex-config';
import { PgDatabase } from '../database/pg-adapter';
import { connectionFailureReason, databaseTarget, DatabaseUnreachableError } from '../database/reachability';
import { verifyInstallation, type VerificationReport } from '../verification/verify';
import { guardDeadline } from './deadline';

export const MINIMUM_POSTGRES_MAJOR = 14; // CREATE OR REPLACE TRIGGER
// pg_advisory_lock key: "ems-migrations" folded into a bigint, fixed forever.
const RUNNER_LOCK_KEY = 7_305_843_009_213_693_953n;

export class MigrationRunnerError extends Error {
  constructor(
    readonly stage: 'connect' | 'preflight' | 'lock' | 'migrate' | 'verify',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MigrationRunnerError';
  }
}

export interface RunnerOptions {
  readonly connectionString: string;
  /** Create the marketplace's base tables when none exist (development databases only). */
  readonly createBaseSchema?: boolean;
  /** How long to wait for another runner before giving up. */
  readonly lockWaitMs?: number;
  readonly log?: (line: string) => void;
  /**
   * Stop cleanly at this time (epoch ms): no migration starts after it, and the one running stops
   * before its next step (DDL transaction, backfill batch, index build; see ./deadline.ts). Every
   * step is idempotent and the backfills resume, so the next run carries on where this one stopped.
   * The report then has `incomplete` and no verification. Unset: run to the end (the CLI).
   */
  readonly deadline?: number;
}

export interface AppliedMigration {
  readonly name: string;
  readonly ms: number;
}

export interface RunnerReport {
  readonly ok: boolean;
  readonly postgresVersion: string;
  readonly alreadyApplied: readonly string[];
  readonly applied: readonly AppliedMigration[];
  readonly verification: VerificationReport | null;
  readonly failure?: { stage: string; message: string };
  /** Set when the run stopped at its `deadline` with migrations still to apply (no verification ran). */
  readonly incomplete?: {
    /** Still to apply, in order. */
    readonly pending: readonly string[];
    /** The migration stopped between two of its steps, if one was. */
    readonly interrupted?: string;
  };
  readonly totalMs: number;
}

interface Preflight {
  readonly postgresVersion: string;
  /** What the pre-flight found of the marketplace's base tables. */
  readonly baseTables: 'present' | 'absent, to be created';
}

async function preflight(client: pg.Client, createBaseSchema: boolean): Promise<Preflight> {
  const [{ server_version_num: versionNumber, server_version: version }] = (
    await client.query<{ server_version_num: string; server_version: string }>(
      `SELECT current_setting('server_version_num') AS server_version_num, current_setting('server_version') AS server_version`,
    )
  ).rows as [{ server_version_num: string; server_version: string }];
  const major = Math.floor(Number(versionNumber) / 10000);
  if (major < MINIMUM_POSTGRES_MAJOR) {
    throw new MigrationRunnerError('preflight', `PostgreSQL ${version} is too old: ${MINIMUM_POSTGRES_MAJOR} or newer is required.`);
  }
  const columns = await client.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = ANY($1)`,
    [[...BASE_TABLES]],
  );
  const present = new Set(columns.rows.map((r) => `${r.table_name}.${r.column_name}`));
  const missingTables = BASE_TABLES.filter((t) => !columns.rows.some((r) => r.table_name === t));
  if (missingTables.length === BASE_TABLES.length && createBaseSchema) return { postgresVersion: version, baseTables: 'absent, to be created' };
  if (missingTables.length > 0) {
    throw new MigrationRunnerError(
      'preflight',
      `Base tables missing: ${missingTables.join(', ')}. The messaging migrations extend an existing marketplace ` +
        'database: check that DATABASE_URL points at it' +
        (missingTables.length === BASE_TABLES.length ? ', or pass --with-base-schema to create an empty marketplace schema.' : '.'),
    );
  }
  const missingColumns = Object.entries(REQUIRED_BASE_COLUMNS).flatMap(([table, cols]) =>
    cols.filter((c) => !present.has(`${table}.${c}`)).map((c) => `${table}.${c}`),
  );
  if (missingColumns.length > 0) {
    throw new MigrationRunnerError('preflight', `Base columns missing: ${missingColumns.join(', ')}.`);
  }
  return { postgresVersion: version, baseTables: 'present' };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls for the lock from the client rather than blocking in pg_advisory_lock():
 * a statement waiting on the server holds a snapshot, and CREATE INDEX
 * CONCURRENTLY in the working runner would wait for that snapshot to go away.
 */
async function acquireRunnerLock(client: pg.Client, waitMs: number, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 0; ; attempt += 1) {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [RUNNER_LOCK_KEY.toString()]);
    if (rows[0]?.locked) return;
    if (attempt === 0) log(`Another migration runner is working on this database; waiting up to ${Math.round(waitMs / 1000)} s for it to finish...`);
    if (Date.now() >= deadline) {
      throw new MigrationRunnerError(
        'lock',
        `Another migration runner still holds the lock after ${Math.round(waitMs / 1000)} s; nothing was applied. Try again when it has finished.`,
      );
    }
    await sleep(Math.min(1000, 100 * 2 ** Math.min(attempt, 4)));
  }
}

/**
 * knex's own lock row stays set if a process dies mid-migration. Holding the
 * advisory lock, what could still legitimately be working is a plain `npx knex`
 * command, or a statement of a killed runner the server has not noticed is
 * orphaned yet (a session blocked on a lock only sees its client is gone when it
 * next talks to it). With neither, the row is stale and is cleared.
 */
async function clearStaleKnexLock(knex: Knex, client: pg.Client, log: (line: string) => void): Promise<void> {
  const lockTable = `${MIGRATIONS_TABLE}_lock`;
  if (!(await knex.schema.hasTable(lockTable))) return;
  const locked = await knex(lockTable).where({ is_locked: 1 }).first();
  if (!locked) return;
  const others = await client.query<{ pid: number; application_name: string; query: string }>(
    `SELECT pid, application_name, left(query, 120) AS query FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid()
        AND (application_name = $1 OR (application_name = $2 AND state <> 'idle'))`,
    [CLI_APPLICATION_NAME, RUNNER_APPLICATION_NAME],
  );
  const busy = others.rows[0];
  if (busy) {
    const who = busy.application_name === CLI_APPLICATION_NAME ? 'A knex migration command' : 'A statement of an earlier, interrupted migration run';
    throw new MigrationRunnerError(
      'lock',
      `${who} is still running on this database (pid ${busy.pid}: ${busy.query.replace(/\s+/g, ' ')}); nothing was applied. ` +
        'Try again when it has finished (or end it with pg_terminate_backend).',
    );
  }
  log('Clearing a stale knex migration lock left by an interrupted run.');
  await knex(lockTable).update({ is_locked: 0 });
}

async function appliedNames(knex: Knex): Promise<string[]> {
  if (!(await knex.schema.hasTable(MIGRATIONS_TABLE))) return [];
  const rows = await knex(MIGRATIONS_TABLE).select('name').orderBy('id');
  return rows.map((r: { name: string }) => r.name);
}

export async function runMessagingMigrations(options: RunnerOptions): Promise<RunnerReport> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const lockClient = new pg.Client({ connectionString: options.connectionString, application_name: RUNNER_APPLICATION_NAME });
  let postgresVersion = 'unknown';
  let alreadyApplied: string[] = [];
  const applied: AppliedMigration[] = [];
  let verification: VerificationReport | null = null;
  let knex: Knex | undefined;
  let incomplete: RunnerReport['incomplete'];
  const finish = (failure?: MigrationRunnerError): RunnerReport => ({
    ok: !failure && !incomplete && (verification?.ok ?? false),
    postgresVersion,
    alreadyApplied,
    applied,
    verification,
    ...(failure ? { failure: { stage: failure.stage, message: failure.message } } : {}),
    ...(incomplete ? { incomplete } : {}),
    totalMs: Date.now() - started,
  });

  try {
    try {
      await lockClient.connect();
    } catch (error) {
      throw new MigrationRunnerError('connect', new DatabaseUnreachableError(databaseTarget(options.connectionString), connectionFailureReason(error)).message, {
        cause: error,
      });
    }
    const found = await preflight(lockClient, options.createBaseSchema ?? false);
    postgresVersion = found.postgresVersion;
    log(
      found.baseTables === 'present'
        ? `Connected: PostgreSQL ${postgresVersion}; the marketplace's base tables are present.`
        : `Connected: PostgreSQL ${postgresVersion}; the marketplace's base tables are absent: the baseline migration creates them.`,
    );

    await acquireRunnerLock(lockClient, options.lockWaitMs ?? 10 * 60_000, log);
    knex = knexFactory(migrationKnexConfig(options.connectionString, RUNNER_APPLICATION_NAME));
    await clearStaleKnexLock(knex, lockClient, log);

    alreadyApplied = await appliedNames(knex);
    const pending = MIGRATIONS.filter((m) => !alreadyApplied.includes(m.name)).map((m) => m.name);
    log(`Status: ${alreadyApplied.length} applied, ${pending.length} pending.`);

    const { deadline } = options;
    const guard = deadline === undefined ? undefined : guardDeadline(knex, messagingMigrationSource, deadline);
    for (const [index, name] of pending.entries()) {
      if (deadline !== undefined && Date.now() >= deadline) {
        incomplete = { pending: pending.slice(index) };
        log(`Time limit reached before ${name}; ${pending.length - index} migration(s) left for the next run.`);
        break;
      }
      const t0 = Date.now();
      log(`Applying ${name} ...`);
      try {
        await knex.migrate.up({ name, ...(guard ? { migrationSource: guard.migrationSource } : {}) });
      } catch (error) {
        if (guard?.fired) {
          incomplete = { pending: pending.slice(index), interrupted: name };
          log(`Time limit reached inside ${name} after ${Date.now() - t0} ms, between two steps; the next run carries on.`);
          break;
        }
        throw new MigrationRunnerError('migrate', `${name} failed: ${(error as Error).message}`, { cause: error });
      }
      applied.push({ name, ms: Date.now() - t0 });
      log(`Applied ${name} in ${Date.now() - t0} ms.`);
    }
    if (incomplete) return finish();

    const db = new PgDatabase(options.connectionString, { max: 2, applicationName: 'ems-verify' });
    try {
      verification = await verifyInstallation(db);
    } finally {
      await db.close();
    }
    return finish(verification.ok ? undefined : new MigrationRunnerError('verify', 'Verification failed after migrating.'));
  } catch (error) {
    if (error instanceof MigrationRunnerError) return finish(error);
    return finish(new MigrationRunnerError('migrate', (error as Error).message, { cause: error }));
  } finally {
    await knex?.destroy();
    // Ending the session releases the advisory lock.
    await lockClient.end().catch(() => undefined);
  }
}

/** Runs `work` while holding the runner's lock (used by the rollback, which must not race a migration). */
export async function withRunnerLock<T>(
  connectionString: string,
  work: () => Promise<T>,
  options: { lockWaitMs?: number; log?: (line: string) => void } = {},
): Promise<T> {
  const client = new pg.Client({ connectionString, application_name: RUNNER_APPLICATION_NAME });
  await client.connect();
  try {
    await acquireRunnerLock(client, options.lockWaitMs ?? 10 * 60_000, options.log ?? (() => undefined));
    return await work();
  } finally {
    await client.end().catch(() => undefined);
  }
}
