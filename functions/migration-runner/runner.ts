/**
 * The guide's recommended migration runner (`npm run migrate:messaging`), also
 * what the migration Lambda runs: pre-flight, status, apply pending migrations
 * in order (timed), verify, report.
 *
 * The pre-flight (./preflight.ts) checks everything the migrations rely on
 * before anything is applied, and refuses with one report of every problem. A
 * migration that fails all the same is undone before the failure is reported
 * (./safeguards.ts).
 *
 * Only one runner works on a database at a time: it holds a PostgreSQL session
 * advisory lock, which the server releases by itself if the runner dies, so a
 * killed runner never leaves a lock that needs a manual unlock.
 */
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { MESSAGING_MIGRATION_NAMES, MIGRATIONS, messagingMigrationSource } from '../../migrations';
import { DEFAULT_PROGRESS_INTERVAL_MS, type ProgressEvent, type ProgressSink, withProgress } from '../../migrations/lib/progress';
import type { Query } from '../../migrations/lib/schema-snapshot';
import { CLI_APPLICATION_NAME, MIGRATIONS_TABLE, migrationKnexConfig, RUNNER_APPLICATION_NAME } from '../database/knex-config';
import { PgDatabase } from '../database/pg-adapter';
import { connectionFailureReason, databaseTarget, DatabaseUnreachableError } from '../database/reachability';
import { verifyInstallation, type VerificationReport } from '../verification/verify';
import { idTypeSetting, migrationSettings } from '../shared/config';
import { guardDeadline } from './deadline';
import { formatPreflightProblems, runPreflight, type PreflightReport } from './preflight';
import { safeguardedMigrationSource } from './safeguards';

export { MINIMUM_POSTGRES_MAJOR } from './preflight';
// pg_advisory_lock key: "ems-migrations" folded into a bigint, fixed forever.
export const RUNNER_LOCK_KEY = 7_305_843_009_213_693_953n;

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
   * Progress of the long steps (backfills, index builds; migrations/lib/progress.ts). Default: each
   * event's line to `log`. None with EMS_QUIET_MIGRATIONS=1.
   */
  readonly progress?: (event: ProgressEvent) => void;
  /** At most one progress line per this many ms and step (default 5000). */
  readonly progressIntervalMs?: number;
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
  /** What the pre-flight found: its problems refused the run; its notes did not. */
  readonly preflight?: Pick<PreflightReport, 'problems' | 'notes'>;
  /** Set when the run stopped at its `deadline` with migrations still to apply (no verification ran). */
  readonly incomplete?: {
    /** Still to apply, in order. */
    readonly pending: readonly string[];
    /** The migration stopped between two of its steps, if one was. */
    readonly interrupted?: string;
  };
  readonly totalMs: number;
}

const queryOn =
  (client: pg.Client): Query =>
  async <T extends object>(sql: string, params?: readonly unknown[]) =>
    (await client.query(sql, params as unknown[])).rows as T[];

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

/**
 * Where the long steps of a run report: `progress`, else `log`. A step without progress of its own
 * (a hand-over of what existing data holds, in batches) still shows it is alive: a line every two
 * intervals in which no other line came.
 */
function progressOf(options: RunnerOptions): { sink: ProgressSink | null; heartbeat: (name: string, startedAt: number) => () => void } {
  const report = options.progress ?? (options.log ? (event: ProgressEvent) => options.log!(event.line) : undefined);
  const intervalMs = options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
  if (!report || migrationSettings().quiet) return { sink: null, heartbeat: () => () => undefined };
  let lastLine = Date.now();
  const sink: ProgressSink = {
    intervalMs,
    report: (event) => {
      lastLine = Date.now();
      report(event);
    },
  };
  const heartbeat = (name: string, startedAt: number) => {
    lastLine = Date.now();
    // Half an interval of slack: a long step's own line, due about now, goes first.
    const timer = setInterval(() => {
      if (Date.now() - lastLine < intervalMs * 1.5) return;
      lastLine = Date.now();
      options.log?.(`${name}: still at work, ${Math.round((Date.now() - startedAt) / 1000)} s`);
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  };
  return { sink, heartbeat };
}

export async function runMessagingMigrations(options: RunnerOptions): Promise<RunnerReport> {
  const log = options.log ?? (() => undefined);
  const progress = progressOf(options);
  const started = Date.now();
  const lockClient = new pg.Client({ connectionString: options.connectionString, application_name: RUNNER_APPLICATION_NAME });
  let postgresVersion = 'unknown';
  let alreadyApplied: string[] = [];
  const applied: AppliedMigration[] = [];
  let verification: VerificationReport | null = null;
  let knex: Knex | undefined;
  let incomplete: RunnerReport['incomplete'];
  let preflightFound: RunnerReport['preflight'];
  const finish = (failure?: MigrationRunnerError): RunnerReport => ({
    ok: !failure && !incomplete && (verification?.ok ?? false),
    postgresVersion,
    alreadyApplied,
    applied,
    verification,
    ...(failure ? { failure: { stage: failure.stage, message: failure.message } } : {}),
    ...(preflightFound ? { preflight: preflightFound } : {}),
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
    const query = queryOn(lockClient);
    // Before waiting for the lock: a database that is not the marketplace's is refused at once.
    const found = await runPreflight(query, { createBaseSchema: options.createBaseSchema ?? false });
    postgresVersion = found.postgresVersion;
    if (found.problems.length > 0) {
      preflightFound = { problems: found.problems, notes: found.notes };
      throw new MigrationRunnerError('preflight', formatPreflightProblems(found.problems));
    }
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

    // Everything the pending migrations rely on, before the first of them changes anything (on an
    // empty database, once the baseline has made the tables).
    let checked = false;
    const checkBeforeMigrating = async (recorded: readonly string[]) => {
      checked = true;
      const full = await runPreflight(query, { applied: recorded });
      preflightFound = { problems: full.problems, notes: full.notes };
      for (const note of full.notes) log(`Note: ${note}`);
      if (full.problems.length > 0) throw new MigrationRunnerError('preflight', formatPreflightProblems(full.problems));
      log('Pre-flight: everything the migrations rely on is in place.');
    };
    if (found.baseTables === 'present' && pending.some((name) => MESSAGING_MIGRATION_NAMES.includes(name))) await checkBeforeMigrating(alreadyApplied);

    const { deadline } = options;
    const guard = deadline === undefined ? undefined : guardDeadline(knex, messagingMigrationSource, deadline);
    // The runner ran the pre-flight itself; the undo journal guards each migration.
    const migrationSource = safeguardedMigrationSource(guard ? guard.migrationSource : messagingMigrationSource, {
      preflight: false,
      migrationsTable: MIGRATIONS_TABLE,
      interrupted: () => guard?.fired ?? false,
    });
    for (const [index, name] of pending.entries()) {
      if (deadline !== undefined && Date.now() >= deadline) {
        incomplete = { pending: pending.slice(index) };
        log(`Time limit reached before ${name}; ${pending.length - index} migration(s) left for the next run.`);
        break;
      }
      if (!checked && MESSAGING_MIGRATION_NAMES.includes(name)) await checkBeforeMigrating([...alreadyApplied, ...applied.map((a) => a.name)]);
      const t0 = Date.now();
      log(`Applying ${name} ...`);
      const stopHeartbeat = progress.heartbeat(name, t0);
      try {
        await withProgress(progress.sink, () => knex!.migrate.up({ name, migrationSource }));
      } catch (error) {
        if (guard?.fired) {
          incomplete = { pending: pending.slice(index), interrupted: name };
          log(`Time limit reached inside ${name} after ${Date.now() - t0} ms, between two steps; the next run carries on.`);
          break;
        }
        throw new MigrationRunnerError('migrate', `${name} failed: ${(error as Error).message}`, { cause: error });
      } finally {
        stopHeartbeat();
      }
      applied.push({ name, ms: Date.now() - t0 });
      log(`Applied ${name} in ${Date.now() - t0} ms.`);
    }
    if (incomplete) return finish();

    const db = new PgDatabase(options.connectionString, { max: 2, applicationName: 'ems-verify' });
    try {
      // EMS_ID_TYPE where it is set (npm start, the migration Lambda): the ids must be the ones the API takes.
      verification = await verifyInstallation(db, { idType: idTypeSetting() });
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
