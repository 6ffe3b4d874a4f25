/**
 * The migration custom resource's handler (custom_resources.Provider onEvent),
 * run by CloudFormation on every deploy that changes the migrations.
 *
 * - Create / Update: waits for the database (Aurora Serverless v2 may be
 *   resuming from auto-pause, the secret may be mid-rotation), then runs the
 *   migration runner: pending migrations in order, then the verification.
 *   Anything short of a green report THROWS: the Provider turns the error into
 *   a FAILED response, so the deploy fails and CloudFormation rolls back.
 * - Delete: does nothing. Removing the stack, or this resource, never touches
 *   the data; the cluster itself is snapshotted on deletion.
 *
 * The connection comes from a seam (`resolveConnectionString`): in AWS it is
 * built from the cluster's Secrets Manager secret, in tests it is a local URL.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import pg from 'pg';
import { runMessagingMigrations, type RunnerOptions, type RunnerReport } from '../migration-runner/runner';
import { migrationLambdaSettings } from '../shared/config';
import { logger } from '../shared/observability';

/** Stable for the resource's whole life, so an Update never looks like a replacement. */
export const MIGRATIONS_PHYSICAL_RESOURCE_ID = 'enhanced-messaging-migrations';

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

export interface MigrationHandlerOptions {
  /** A node-postgres connection string; called again on every connection attempt (the password may rotate). */
  readonly resolveConnectionString: () => Promise<string>;
  readonly connectRetry?: Partial<ConnectRetryOptions>;
  /** How long to wait for another runner holding the migration lock. */
  readonly lockWaitMs?: number;
  readonly runMigrations?: (options: RunnerOptions) => Promise<RunnerReport>;
}

export interface MigrationResourceResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

type MigrationEvent = CloudFormationCustomResourceEvent;

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

export function createMigrationHandler(options: MigrationHandlerOptions) {
  const retry = { ...DEFAULT_CONNECT_RETRY, ...options.connectRetry };
  const run = options.runMigrations ?? runMessagingMigrations;

  return async (event: MigrationEvent): Promise<MigrationResourceResponse> => {
    logger.appendKeys({ requestType: event.RequestType, logicalResourceId: event.LogicalResourceId });
    try {
      if (event.RequestType === 'Delete') {
        logger.info('delete: nothing to do, the data stays');
        return { PhysicalResourceId: event.PhysicalResourceId };
      }

      const createBaseSchema = readFlag(event.ResourceProperties.CreateBaseSchema, 'CreateBaseSchema');
      logger.info('migrating', { migrationsHash: event.ResourceProperties.MigrationsHash, createBaseSchema });
      const connectionString = await waitForDatabase(options.resolveConnectionString, retry);
      const report = await run({
        connectionString,
        createBaseSchema,
        lockWaitMs: options.lockWaitMs ?? 5 * 60_000,
        log: (line) => logger.info(line),
      });
      logger.info('migration report', {
        ok: report.ok,
        postgresVersion: report.postgresVersion,
        alreadyApplied: report.alreadyApplied,
        applied: report.applied,
        failure: report.failure,
        checks: report.verification?.checks,
        totalMs: report.totalMs,
      });
      if (failsTheDeploy(report)) throw new Error(describeFailure(report));
      if (!report.ok) logger.warn('migrated; the verification reports findings for the scheduled check to alarm on', { failure: report.failure });

      return {
        PhysicalResourceId: MIGRATIONS_PHYSICAL_RESOURCE_ID,
        Data: {
          Applied: report.applied.map((m) => m.name).join(','),
          AppliedCount: String(report.applied.length),
          AlreadyAppliedCount: String(report.alreadyApplied.length),
          PostgresVersion: report.postgresVersion,
        },
      };
    } catch (error) {
      logger.error('migration custom resource failed', error as Error);
      throw error;
    } finally {
      logger.removeKeys(['requestType', 'logicalResourceId']);
    }
  };
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

async function connectionStringFromSecretsManager(): Promise<string> {
  const { secretArn, databaseName } = migrationLambdaSettings();
  // The Lambda runtime provides the AWS SDK v3 (left out of the bundle); loaded only in production wiring.
  const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  secretsClient ??= new SecretsManagerClient({});
  const { SecretString } = await secretsClient.send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (!SecretString) throw new Error('The database secret has no SecretString');
  return connectionStringFromSecret(JSON.parse(SecretString) as ClusterSecret, databaseName);
}

export const handler = createMigrationHandler({ resolveConnectionString: connectionStringFromSecretsManager });
