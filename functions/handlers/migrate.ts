/**
 * The migration custom resource's handler (custom_resources.Provider, with an
 * isComplete waiter), run by CloudFormation on every deploy that changes the
 * migrations. One Lambda serves both of the Provider's calls (`handler`
 * dispatches on the marker onEvent adds to the event).
 *
 * - onEvent (Create / Update): checks the properties and answers at once,
 *   marking the event with the time this deploy started migrating. The
 *   Provider's waiter then calls isComplete every few seconds.
 * - isComplete: one slice of work, time-budgeted: waits for the database
 *   (Aurora Serverless v2 may be resuming from auto-pause, the secret may be
 *   mid-rotation), then runs the migration runner with a deadline. Pending
 *   migrations are applied in order; at the deadline the runner stops between
 *   two steps (functions/migration-runner/deadline.ts) and the slice answers
 *   "not complete"; the next slice carries on (every step is idempotent, the
 *   backfills resume). Once nothing is pending, the verification runs and the
 *   slice answers "complete". A slice that finds another runner at work, or
 *   loses its connection, also answers "not complete". Anything else short of
 *   a green report THROWS: the Provider reports FAILED, the deploy fails and
 *   CloudFormation rolls back; so does a deploy still migrating after its
 *   limit (the work done stays done: the next deploy carries on).
 * - An event whose MigrationsHash is not the one this code was built with is a
 *   rollback while this code is still deployed: complete at once, nothing run.
 * - Delete: does nothing. Removing the stack, or this resource, never touches
 *   the data; the cluster itself is snapshotted on deletion.
 *
 * - An operator's invocation (`{ "operatorAction": ... }`, from
 *   `npm run migrate:messaging -- --stack`, functions/migration-runner/remote.ts): the guide's
 *   commands against the deployed database, which only this function can reach: `status` (knex's
 *   migrate:status and migrate:list), `migrate` (one slice of the runner; the command invokes
 *   again until complete), `up` / `down` (knex's migrate:up / migrate:down, optionally by name),
 *   `dry-run` (what `migrate` would do, in a read-only session: nothing changes).
 *
 * The connection comes from a seam (`resolveConnectionString`): in AWS it is
 * built from the cluster's Secrets Manager secret, in tests it is a local URL.
 */
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import pg from 'pg';
import { provisionLoginUsers, type LoginUser } from '../migration-runner/login-roles';
import type { DryRunReport } from '../migration-runner/dry-run';
import { runMessagingMigrations, type RunnerOptions, type RunnerReport } from '../migration-runner/runner';
import { EVENT_RELAY_ROLE, READER_ROLE, ROUTE_CALLER_ROLE } from '../../migrations/lib/database-roles';
import { migrationLambdaSettings } from '../shared/config';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { logger, metrics as sharedMetrics, startInvocation } from '../shared/observability';
import { MIGRATION_NAMES } from '../../migrations/manifest';

/** Stable for the resource's whole life, so an Update never looks like a replacement. */
export const MIGRATIONS_PHYSICAL_RESOURCE_ID = 'enhanced-messaging-migrations';

/** The Lambda's environment (set by infra/constructs/schema-migrations.ts). */
export const MIGRATIONS_HASH_ENV = 'EMS_MIGRATIONS_HASH';
export const SLICE_SECONDS_ENV = 'MIGRATION_SLICE_SECONDS';
export const DEPLOY_MINUTES_ENV = 'MIGRATION_DEPLOY_MINUTES';

export interface ConnectRetryOptions {
  /** Give up once this much time has passed since the first attempt. */
  readonly deadlineMs: number;
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Per attempt. */
  readonly connectTimeoutMs: number;
}

/** Up to ~5 minutes of waiting (a resume from auto-pause takes seconds; rotation a little longer), well inside the 15-minute Lambda timeout. */
export const DEFAULT_CONNECT_RETRY: ConnectRetryOptions = {
  deadlineMs: 5 * 60_000,
  maxAttempts: 30,
  initialDelayMs: 2_000,
  maxDelayMs: 20_000,
  connectTimeoutMs: 15_000,
};

/** The time limits of the deploy-time migrations (README: Deploying, "Migrations of any size"). */
export interface MigrationTimeLimits {
  /** Working time of one isComplete invocation (a slice). */
  readonly sliceMs: number;
  /** How long one deploy may keep migrating, from its onEvent, before it fails. */
  readonly deployMs: number;
  /**
   * Kept free at the end of an invocation (the statement running at the deadline, the
   * verification), when the Lambda context says how much time is left.
   */
  readonly reserveMs: number;
}

/**
 * For the 15-minute Lambda: 9 minutes of work per slice, 6 kept free (a statement may run 4 more
 * minutes, MIGRATION_STATEMENT_TIMEOUT, then the verification); 45 minutes per deploy, inside
 * CloudFormation's one-hour limit for a custom resource.
 */
export const DEFAULT_TIME_LIMITS: MigrationTimeLimits = { sliceMs: 9 * 60_000, deployMs: 45 * 60_000, reserveMs: 6 * 60_000 };

export interface MigrationHandlerOptions {
  /** A node-postgres connection string; called again on every connection attempt (the password may rotate). */
  readonly resolveConnectionString: () => Promise<string>;
  readonly connectRetry?: Partial<ConnectRetryOptions>;
  readonly limits?: Partial<MigrationTimeLimits>;
  /** The MigrationsHash this code was built with; an event naming another is not migrated. Unset: every event is. */
  readonly migrationsHash?: string;
  readonly runMigrations?: (options: RunnerOptions) => Promise<RunnerReport>;
  /**
   * The login users of the deployed functions, from their secrets, called again on every completed
   * deploy: each is made (or repaired) once the migrations are applied and verified. Unset: none.
   */
  readonly resolveLoginUsers?: () => Promise<readonly LoginUser[]>;
  /** Where the slices' EMF metrics go (default: the functions' shared Metrics). */
  readonly metrics?: Metrics;
}

/**
 * EMF metrics of the deploy-time migrations (namespace EnhancedMessaging, dimension `service`), on
 * the operations dashboard: one MigrationSlices per isComplete call (dimension `outcome`), the
 * migrations each slice applied, its duration, and one MigrationRuns per deploy that ended
 * (dimension `outcome`: succeeded or failed).
 */
export const MIGRATION_SLICES_METRIC = 'MigrationSlices';
export const MIGRATIONS_APPLIED_METRIC = 'MigrationsApplied';
export const MIGRATION_SLICE_DURATION_METRIC = 'MigrationSliceDuration';
export const MIGRATION_RUNS_METRIC = 'MigrationRuns';
/** `continuing`: not complete yet; `skipped`: an event for other migrations (a rollback). */
export const SLICE_OUTCOMES = ['complete', 'continuing', 'failed', 'skipped'] as const;
export type SliceOutcome = (typeof SLICE_OUTCOMES)[number];
export const RUN_OUTCOMES = ['succeeded', 'failed'] as const;

type CfnEvent = CloudFormationCustomResourceEvent;

/** An operator's invocation (`npm run migrate:messaging -- --stack`): `{ operatorAction, name? }`. */
export const OPERATOR_KEY = 'operatorAction';
export const OPERATOR_ACTIONS = ['status', 'migrate', 'up', 'down', 'rollback', 'dry-run'] as const;
/**
 * What a rollback invocation must carry: the command exports the history through the Data API
 * first (functions/migration-runner/remote.ts), and a rollback sent by mistake drops it.
 */
export const ROLLBACK_CONFIRMATION = 'the history is exported: roll back every messaging migration';
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];

export interface OperatorEvent {
  readonly [OPERATOR_KEY]: OperatorAction;
  /** up / down: that migration (the recorded `.js` name) instead of the next / the last. */
  readonly name?: string;
  /** rollback: ROLLBACK_CONFIRMATION. */
  readonly confirm?: string;
}

export interface OperatorResponse {
  readonly action: OperatorAction;
  /** migrate: everything applied and verified (else invoke again); the other actions: true. */
  readonly complete: boolean;
  readonly applied: readonly string[];
  readonly pending: readonly string[];
  /** up / down / rollback: the migrations it applied or undid. */
  readonly changed?: readonly string[];
  readonly failure?: string;
  readonly checks?: readonly { name: string; ok: boolean; detail: string }[];
  /** dry-run: what `migrate` would do (functions/migration-runner/dry-run.ts); nothing was changed. */
  readonly plan?: DryRunReport;
}

/** What onEvent adds to the event (the Provider passes onEvent's answer on to isComplete, merged into the event). */
export const STARTED_AT_KEY = 'MigrationStartedAt';

export interface OnEventResponse {
  readonly PhysicalResourceId: string;
  /** ISO time this deploy started migrating; only the handler reads it (CloudFormation never sees it). */
  readonly [STARTED_AT_KEY]: string;
}

/** The event isComplete receives: CloudFormation's, with onEvent's answer merged in. */
export type IsCompleteEvent = CfnEvent & OnEventResponse & { readonly Data?: Record<string, string> };

export interface IsCompleteResponse {
  readonly IsComplete: boolean;
  /** Only with IsComplete true (the Provider refuses Data otherwise). */
  readonly Data?: Record<string, string>;
}

/** What the Lambda runtime passes as the context (the part used here). */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** CloudFormation passes every property as a string ('true' / 'false'); absent means false. */
function readFlag(value: unknown, name: string): boolean {
  if (value === true || value === 'true') return true;
  if (value === undefined || value === false || value === 'false') return false;
  throw new Error(`Resource property ${name} must be 'true' or 'false', got ${JSON.stringify(value)}`);
}

async function tryConnect(connectionString: string, timeoutMs: number): Promise<void> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: timeoutMs, application_name: 'ems-migration-lambda' });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Resolves and probes the connection until it answers; throws once the attempts or the deadline run out. */
async function waitForDatabase(resolve: () => Promise<string>, retry: ConnectRetryOptions): Promise<string> {
  const started = Date.now();
  let delay = retry.initialDelayMs;
  for (let attempt = 1; ; attempt += 1) {
    let connectionString: string | undefined;
    try {
      connectionString = await resolve();
      await tryConnect(connectionString, retry.connectTimeoutMs);
      if (attempt > 1) logger.info('database reachable', { attempt, waitedMs: Date.now() - started });
      return connectionString;
    } catch (error) {
      const elapsed = Date.now() - started;
      const message = (error as Error).message;
      if (attempt >= retry.maxAttempts || elapsed + delay > retry.deadlineMs) {
        throw new Error(`Cannot connect to the database after ${attempt} attempt(s) in ${Math.round(elapsed / 1000)} s: ${message}`, {
          cause: error,
        });
      }
      logger.warn('database not reachable yet; retrying', { attempt, retryInMs: delay, error: message });
      await sleep(delay);
      delay = Math.min(retry.maxDelayMs, delay * 2);
    }
  }
}

const MAX_REASON_LENGTH = 1500;

function describeFailure(report: RunnerReport): string {
  const parts = [`Migrations failed${report.failure ? ` at ${report.failure.stage}: ${report.failure.message}` : ''}`];
  const failedChecks = report.verification?.checks.filter((c) => !c.ok) ?? [];
  if (failedChecks.length > 0) parts.push(`failed checks: ${failedChecks.map((c) => `${c.name} (${c.detail})`).join('; ')}`);
  if (report.applied.length > 0) parts.push(`applied before the failure: ${report.applied.map((m) => m.name).join(', ')}`);
  const message = parts.join('. ');
  // It becomes the CloudFormation event's reason, and a response over 4 KB is refused (the stack would hang).
  return message.length <= MAX_REASON_LENGTH ? message : `${message.slice(0, MAX_REASON_LENGTH - 40)}... (the full report is in the log)`;
}

/**
 * Whether the report must fail the deploy. Migrating that failed, or a schema that is incomplete
 * or tampered with, does. Two findings do not, because failing would also fail CloudFormation's
 * rollback (which runs this handler again) and leave the stack stuck: data that breaks the routing
 * invariant (the scheduled verification alarms on it), and a database that already has migrations
 * newer than this code (the rollback of a deploy that migrated).
 */
export function failsTheDeploy(report: RunnerReport): boolean {
  if (report.ok) return false;
  if (report.failure && report.failure.stage !== 'verify') return true;
  return (report.verification?.checks ?? []).some((check) => {
    if (check.ok || check.name === 'routing invariant') return false;
    if (check.name === 'migration status') return check.detail.includes('pending:');
    return true;
  });
}

/** A lost connection (failover, restart, a killed session): the next slice simply tries again. */
const CONNECTION_LOST =
  /Connection terminated|terminating connection|server closed the connection|Connection ended unexpectedly|ECONNRESET|EPIPE|ETIMEDOUT|the database system is (shutting down|starting up|in recovery mode)/i;

export function isConnectionLoss(message: string): boolean {
  return CONNECTION_LOST.test(message);
}

const minutes = (ms: number) => `${Math.round(ms / 60_000)} minute${Math.round(ms / 60_000) === 1 ? '' : 's'}`;

export function createMigrationHandlers(options: MigrationHandlerOptions) {
  const retry = { ...DEFAULT_CONNECT_RETRY, ...options.connectRetry };
  const limits = { ...DEFAULT_TIME_LIMITS, ...options.limits };
  const run = options.runMigrations ?? runMessagingMigrations;
  const metrics = options.metrics ?? sharedMetrics;

  function publishSliceMetrics(outcome: SliceOutcome, applied: number, ms: number): void {
    const slice = metrics.singleMetric();
    slice.addDimension('outcome', outcome);
    slice.addMetric(MIGRATION_SLICES_METRIC, MetricUnit.Count, 1);
    if (outcome === 'complete' || outcome === 'failed') {
      const deploy = metrics.singleMetric();
      deploy.addDimension('outcome', outcome === 'complete' ? 'succeeded' : 'failed');
      deploy.addMetric(MIGRATION_RUNS_METRIC, MetricUnit.Count, 1);
    }
    metrics.addMetric(MIGRATIONS_APPLIED_METRIC, MetricUnit.Count, applied);
    metrics.addMetric(MIGRATION_SLICE_DURATION_METRIC, MetricUnit.Milliseconds, ms);
    metrics.publishStoredMetrics();
  }

  /** Checks the properties (a bad one fails the deploy at once) and starts the clock of this deploy. */
  async function onEvent(event: CfnEvent): Promise<OnEventResponse> {
    logger.appendKeys({ requestType: event.RequestType, logicalResourceId: event.LogicalResourceId });
    try {
      const physicalResourceId = event.RequestType === 'Create' ? MIGRATIONS_PHYSICAL_RESOURCE_ID : event.PhysicalResourceId;
      if (event.RequestType !== 'Delete') readFlag(event.ResourceProperties.CreateBaseSchema, 'CreateBaseSchema');
      return { PhysicalResourceId: physicalResourceId, [STARTED_AT_KEY]: new Date().toISOString() };
    } finally {
      logger.removeKeys(['requestType', 'logicalResourceId']);
    }
  }

  /** One slice, with its metrics. */
  async function isComplete(event: IsCompleteEvent, context?: InvocationContext): Promise<IsCompleteResponse> {
    const invoked = Date.now();
    const progress = { applied: 0 };
    let outcome: SliceOutcome = 'failed';
    try {
      const answer = await slice(event, progress, context);
      outcome = !answer.IsComplete ? 'continuing' : answer.Data?.Skipped ? 'skipped' : 'complete';
      return answer;
    } finally {
      if (event.RequestType !== 'Delete') publishSliceMetrics(outcome, progress.applied, Date.now() - invoked);
    }
  }

  /** One slice: migrate until the slice's deadline; complete once nothing is pending and the verification passed. */
  async function slice(event: IsCompleteEvent, progress: { applied: number }, context?: InvocationContext): Promise<IsCompleteResponse> {
    const invoked = Date.now();
    logger.appendKeys({ requestType: event.RequestType, logicalResourceId: event.LogicalResourceId });
    try {
      if (event.RequestType === 'Delete') {
        logger.info('delete: nothing to do, the data stays');
        return { IsComplete: true };
      }
      const migrationsHash = String(event.ResourceProperties.MigrationsHash ?? '');
      if (options.migrationsHash !== undefined && migrationsHash !== options.migrationsHash) {
        logger.warn('the event names other migrations than this code carries (a rollback while this code is still deployed): nothing migrated', {
          eventMigrationsHash: migrationsHash,
          codeMigrationsHash: options.migrationsHash,
        });
        return { IsComplete: true, Data: { Skipped: 'true' } };
      }
      const createBaseSchema = readFlag(event.ResourceProperties.CreateBaseSchema, 'CreateBaseSchema');

      const startedAt = Date.parse(event[STARTED_AT_KEY]);
      const deployDeadline = (Number.isNaN(startedAt) ? invoked : startedAt) + limits.deployMs;
      const tooLong = (pending: readonly string[]) =>
        new Error(
          `Migrations did not finish within ${minutes(limits.deployMs)} of this deploy; still pending: ${pending.join(', ') || 'the verification'}. ` +
            'Everything applied so far is kept and the next deploy carries on from there.',
        );
      if (invoked >= deployDeadline) throw tooLong([]);
      let deadline = Math.min(invoked + limits.sliceMs, deployDeadline);
      if (context) deadline = Math.min(deadline, invoked + context.getRemainingTimeInMillis() - limits.reserveMs);

      logger.info('migrating (one slice)', { migrationsHash, createBaseSchema, sliceMs: deadline - invoked });
      const connectionString = await waitForDatabase(options.resolveConnectionString, retry);
      const report = await run({
        connectionString,
        createBaseSchema,
        // Another runner at work: wait for it within this slice, then let the next slice try again.
        lockWaitMs: Math.max(1_000, deadline - Date.now()),
        deadline,
        log: (line) => logger.info(line),
      });
      progress.applied = report.applied.length;
      logger.info('migration report', {
        ok: report.ok,
        postgresVersion: report.postgresVersion,
        alreadyApplied: report.alreadyApplied,
        applied: report.applied,
        incomplete: report.incomplete,
        failure: report.failure,
        checks: report.verification?.checks,
        totalMs: report.totalMs,
      });

      const retryable =
        report.incomplete !== undefined ||
        report.failure?.stage === 'lock' ||
        (report.failure !== undefined && report.failure.stage !== 'verify' && isConnectionLoss(report.failure.message));
      if (retryable) {
        const pending = report.incomplete?.pending ?? [];
        if (Date.now() >= deployDeadline) throw tooLong(pending);
        logger.info('not complete yet: the next slice carries on', {
          pending,
          interrupted: report.incomplete?.interrupted,
          reason: report.incomplete ? 'time limit of the slice' : report.failure?.message,
        });
        return { IsComplete: false };
      }
      if (failsTheDeploy(report)) throw new Error(describeFailure(report));
      if (!report.ok) logger.warn('migrated; the verification reports findings for the scheduled check to alarm on', { failure: report.failure });

      if (options.resolveLoginUsers) {
        const users = await options.resolveLoginUsers();
        await provisionLoginUsers(connectionString, users);
        logger.info('login users in place', { users: users.map((u) => ({ username: u.username, memberOf: u.memberOf })) });
      }
      const applied = [...report.alreadyApplied, ...report.applied.map((m) => m.name)];
      return {
        IsComplete: true,
        Data: {
          AppliedCount: String(applied.length),
          LatestMigration: applied[applied.length - 1] ?? '',
          PostgresVersion: report.postgresVersion,
        },
      };
    } catch (error) {
      logger.error('migration custom resource failed', error as Error);
      throw error;
    } finally {
      logger.removeKeys(['requestType', 'logicalResourceId']);
    }
  }

    /** One operator action against the deployed database (see the header). */
  async function operator(event: OperatorEvent, context?: InvocationContext): Promise<OperatorResponse> {
    const action = event[OPERATOR_KEY];
    const name = event.name;
    if (!OPERATOR_ACTIONS.includes(action)) throw new Error(`Unknown operatorAction ${JSON.stringify(action)}: expected one of ${OPERATOR_ACTIONS.join(', ')}`);
    if (name !== undefined && (typeof name !== 'string' || !MIGRATION_NAMES.includes(name as never))) {
      throw new Error(`Unknown migration ${JSON.stringify(name)}: expected one of ${MIGRATION_NAMES.join(', ')}`);
    }
    if (action === 'rollback' && event.confirm !== ROLLBACK_CONFIRMATION) {
      throw new Error(`A rollback drops the messaging history: invoke it with confirm ${JSON.stringify(ROLLBACK_CONFIRMATION)}, after exporting it (npm run migrate:messaging -- --stack <Data stack> --rollback does both). Nothing was changed.`);
    }
    logger.info('operator action', { action, name });
    const connectionString = await waitForDatabase(options.resolveConnectionString, retry);
    if (action === 'rollback') {
      const { rollBackAppliedMigrations } = await import('../migration-runner/rollback');
      const { withRunnerLock } = await import('../migration-runner/runner');
      const changed = await withRunnerLock(connectionString, () => rollBackAppliedMigrations(connectionString, (line) => logger.info(line)), {
        log: (line) => logger.info(line),
      });
      const { MIGRATIONS_TABLE } = await import('../database/knex-config');
      const { PgDatabase } = await import('../database/pg-adapter');
      const db = new PgDatabase(connectionString, { max: 1, applicationName: 'ems-migration-lambda' });
      try {
        const applied = (await db.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`)).map((r) => r.name);
        return { action, complete: true, changed, applied, pending: MIGRATION_NAMES.filter((n) => !applied.includes(n)) };
      } finally {
        await db.close();
      }
    }
    if (action === 'dry-run') {
      const { planMessagingMigrations } = await import('../migration-runner/dry-run');
      const plan = await planMessagingMigrations({ connectionString, createBaseSchema: false });
      return { action, complete: true, applied: plan.alreadyApplied, pending: plan.pending.map((m) => m.name), plan };
    }
    if (action === 'migrate') {
      const started = Date.now();
      let deadline = started + limits.sliceMs;
      if (context) deadline = Math.min(deadline, started + context.getRemainingTimeInMillis() - limits.reserveMs);
      const report = await run({ connectionString, createBaseSchema: false, lockWaitMs: Math.max(1_000, deadline - Date.now()), deadline, log: (line) => logger.info(line) });
      return {
        action,
        complete: report.ok && report.incomplete === undefined,
        applied: report.applied.map((m) => m.name),
        pending: report.incomplete?.pending ?? [],
        ...(report.failure ? { failure: `${report.failure.stage}: ${report.failure.message}` } : {}),
        ...(report.verification ? { checks: report.verification.checks.map((c) => ({ name: c.name, ok: c.ok, detail: c.detail })) } : {}),
      };
    }
    const { default: knexFactory } = await import('knex');
    const { migrationKnexConfig, RUNNER_APPLICATION_NAME } = await import('../database/knex-config');
    const knex = knexFactory(migrationKnexConfig(connectionString, RUNNER_APPLICATION_NAME));
    try {
      const list = async () => {
        const [completed, pending] = (await knex.migrate.list()) as [{ name: string }[], { file: string }[]];
        return { applied: completed.map((m) => m.name), pending: pending.map((m) => m.file) };
      };
      if (action === 'status') return { action, complete: true, ...(await list()) };
      const [, changed] = (await (action === 'up' ? knex.migrate.up(name ? { name } : undefined) : knex.migrate.down(name ? { name } : undefined))) as [
        number,
        string[],
      ];
      return { action, complete: true, changed, ...(await list()) };
    } finally {
      await knex.destroy();
    }
  }

  /** The Lambda's entry point: the Provider's two calls (isComplete events carry onEvent's marker) and an operator's. */
  async function handler(
    event: CfnEvent | IsCompleteEvent | OperatorEvent,
    context?: InvocationContext,
  ): Promise<OnEventResponse | IsCompleteResponse | OperatorResponse> {
    if (OPERATOR_KEY in event) return operator(event as OperatorEvent, context);
    return STARTED_AT_KEY in event ? isComplete(event as IsCompleteEvent, context) : onEvent(event as CfnEvent);
  }

  return { onEvent, isComplete, operator, handler };
}

// ---------------------------------------------------------------------------
// Production wiring: the cluster's secret from Secrets Manager.

interface ClusterSecret {
  readonly host: string;
  readonly port: number | string;
  readonly username: string;
  readonly password: string;
  readonly dbname?: string;
}

/**
 * A node-postgres URL for the cluster secret. TLS with certificate and host
 * name verification (`verify-full`); the Lambda trusts the RDS CAs through
 * NODE_EXTRA_CA_CERTS=/var/runtime/ca-cert.pem, and the cluster refuses
 * plain connections (rds.force_ssl).
 */
export function connectionStringFromSecret(secret: ClusterSecret, fallbackDatabase = 'postgres'): string {
  for (const key of ['host', 'port', 'username', 'password'] as const) {
    if (secret[key] === undefined || secret[key] === '') throw new Error(`The database secret has no ${key}`);
  }
  const user = encodeURIComponent(secret.username);
  const password = encodeURIComponent(secret.password);
  const database = encodeURIComponent(secret.dbname || fallbackDatabase);
  return `postgresql://${user}:${password}@${secret.host}:${secret.port}/${database}?sslmode=verify-full`;
}

let secretsClient: import('@aws-sdk/client-secrets-manager').SecretsManagerClient | undefined;

async function secretValue(secretArn: string): Promise<ClusterSecret> {
  // The Lambda runtime provides the AWS SDK v3 (left out of the bundle); loaded only in production wiring.
  const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  secretsClient ??= new SecretsManagerClient({});
  const { SecretString } = await secretsClient.send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (!SecretString) throw new Error(`The secret ${secretArn} has no SecretString`);
  return JSON.parse(SecretString) as ClusterSecret;
}

async function connectionStringFromSecretsManager(): Promise<string> {
  const { secretArn, databaseName } = migrationLambdaSettings();
  return connectionStringFromSecret(await secretValue(secretArn), databaseName);
}

/** The login users as their secrets hold them now (after a rotation: the clone and its password). */
async function loginUsersFromSecretsManager(): Promise<LoginUser[]> {
  const arns = migrationLambdaSettings().loginUserSecretArns;
  if (!arns) return [];
  const user = async (arn: string, memberOf: LoginUser['memberOf']): Promise<LoginUser> => {
    const { username, password } = await secretValue(arn);
    return { username, password, memberOf };
  };
  return [
    await user(arns.api, ROUTE_CALLER_ROLE),
    await user(arns.verifier, READER_ROLE),
    ...(arns.relay ? [await user(arns.relay, EVENT_RELAY_ROLE)] : []),
  ];
}

/** The time limits and the code's MigrationsHash, set by the stack (infra/constructs/schema-migrations.ts). */
export function migrationLambdaLimits(environment: NodeJS.ProcessEnv = process.env): { limits: Partial<MigrationTimeLimits>; migrationsHash?: string } {
  const positive = (name: string, unitMs: number): number | undefined => {
    const raw = environment[name]?.trim();
    if (!raw) return undefined;
    if (!/^\d+$/.test(raw) || Number(raw) === 0) throw new Error(`Invalid configuration: ${name}=${JSON.stringify(raw)}: expected a positive whole number`);
    return Number(raw) * unitMs;
  };
  const hash = environment[MIGRATIONS_HASH_ENV]?.trim();
  if (hash && !/^[0-9a-f]{64}$/.test(hash)) throw new Error(`Invalid configuration: ${MIGRATIONS_HASH_ENV}: expected a sha256 in hex`);
  const sliceMs = positive(SLICE_SECONDS_ENV, 1000);
  const deployMs = positive(DEPLOY_MINUTES_ENV, 60_000);
  return {
    limits: { ...(sliceMs ? { sliceMs } : {}), ...(deployMs ? { deployMs } : {}) },
    ...(hash ? { migrationsHash: hash } : {}),
  };
}

let production: ReturnType<typeof createMigrationHandlers> | undefined;

/** The Lambda's entry point (both Provider calls); built on first use, so importing this module reads no environment. */
export function handler(
  event: CfnEvent | IsCompleteEvent | OperatorEvent,
  context?: InvocationContext & Partial<Context>,
): Promise<OnEventResponse | IsCompleteResponse | OperatorResponse> {
  // Lambda's context on every log line of the invocation, and the ColdStart metric.
  if (context?.awsRequestId) startInvocation(context as Context);
  production ??= createMigrationHandlers({
    resolveConnectionString: connectionStringFromSecretsManager,
    resolveLoginUsers: loginUsersFromSecretsManager,
    ...migrationLambdaLimits(),
  });
  return production.handler(event, context);
}
