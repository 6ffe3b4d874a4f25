/**
 * The guide's pre-migration checklist ("back up the database") as a step of every deploy outside
 * dev: a custom resource (custom_resources.Provider with an isComplete waiter) that the migration
 * custom resource waits for. When the deploy would apply migrations the database does not have
 * yet, it takes a manual snapshot of the cluster and waits until the snapshot is available; the
 * migrations start only then. When nothing is pending it takes none.
 *
 * - onEvent (Update): reads which migrations are applied through the Data API, as the read-only
 *   verification user (this function runs outside the VPC). Pending ones, or an answer it cannot
 *   get (e.g. the first deploy of this version, before that user exists): CreateDBClusterSnapshot,
 *   named `<cluster>-pre-<first 12 of the migrations hash>-<UTC time>` so an operator finds it by
 *   cluster and by deploy (README: Restoring the pre-migration snapshot).
 * - isComplete: the snapshot's status; `available` completes, `creating` waits, anything else
 *   fails the deploy before any migration runs.
 * - Create (a new cluster: nothing to protect), Delete (snapshots outlive the stack), and an event
 *   naming other migrations than this code carries (CloudFormation's rollback): nothing.
 */
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import type { RDSClient } from '@aws-sdk/client-rds';
import type { Database } from '../database/port';
import { MIGRATION_NAMES } from '../../migrations/manifest';
import { logger, startInvocation } from '../shared/observability';

export const SNAPSHOT_PHYSICAL_RESOURCE_ID = 'enhanced-messaging-pre-migration-snapshot';
/** What onEvent passes to isComplete: the snapshot being taken, '' for none. */
export const SNAPSHOT_KEY = 'SnapshotIdentifier';

export interface SnapshotHandlerOptions {
  readonly rds: () => RDSClient;
  /** The database as the read-only verification user (the Data API in AWS). */
  readonly database: () => Promise<Database>;
  /** The MigrationsHash this code was built with; an event naming another is not acted on. Unset: every event is. */
  readonly migrationsHash?: string;
  readonly now?: () => Date;
}

type CfnEvent = CloudFormationCustomResourceEvent;
type IsCompleteEvent = CfnEvent & { readonly [SNAPSHOT_KEY]?: string; readonly PhysicalResourceId: string };

/** `<cluster>-pre-<hash 12>-<yyyymmddhhmmss>`: at most 63 characters, letters, digits and hyphens. */
export function snapshotIdentifier(clusterIdentifier: string, migrationsHash: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `${clusterIdentifier}-pre-${migrationsHash.slice(0, 12)}-${stamp}`.slice(0, 63);
}

/** The code's migrations the database has not applied; every one of them when the answer cannot be had. */
async function pendingMigrations(database: () => Promise<Database>): Promise<{ pending: readonly string[]; known: boolean; reason?: string }> {
  try {
    const db = await database();
    const [table] = await db.query<{ present: boolean }>(`SELECT to_regclass('knex_migrations') IS NOT NULL AS present`);
    const applied = new Set(table?.present ? (await db.query<{ name: string }>('SELECT name FROM knex_migrations')).map((r) => r.name) : []);
    return { pending: MIGRATION_NAMES.slice(1).filter((name) => !applied.has(name)), known: true };
  } catch (error) {
    return { pending: MIGRATION_NAMES.slice(1), known: false, reason: (error as Error).message };
  }
}

function property(event: CfnEvent, name: string): string {
  const value = event.ResourceProperties[name];
  if (typeof value !== 'string' || value === '') throw new Error(`Resource property ${name} is missing`);
  return value;
}

export function createSnapshotHandlers(options: SnapshotHandlerOptions) {
  const now = options.now ?? (() => new Date());

  async function onEvent(event: CfnEvent): Promise<{ PhysicalResourceId: string; [SNAPSHOT_KEY]: string }> {
    const physicalResourceId = event.RequestType === 'Create' ? SNAPSHOT_PHYSICAL_RESOURCE_ID : event.PhysicalResourceId;
    const none = { PhysicalResourceId: physicalResourceId, [SNAPSHOT_KEY]: '' };
    if (event.RequestType !== 'Update') return none;
    const clusterIdentifier = property(event, 'ClusterIdentifier');
    const migrationsHash = property(event, 'MigrationsHash');
    if (options.migrationsHash !== undefined && migrationsHash !== options.migrationsHash) {
      logger.warn('the event names other migrations than this code carries (a rollback): no snapshot', { migrationsHash });
      return none;
    }
    const { pending, known, reason } = await pendingMigrations(options.database);
    if (pending.length === 0) {
      logger.info('no migration pending: no snapshot');
      return none;
    }
    const identifier = snapshotIdentifier(clusterIdentifier, migrationsHash, now());
    const { CreateDBClusterSnapshotCommand } = await import('@aws-sdk/client-rds');
    await options.rds().send(
      new CreateDBClusterSnapshotCommand({
        DBClusterIdentifier: clusterIdentifier,
        DBClusterSnapshotIdentifier: identifier,
        Tags: [
          { Key: 'enhanced-messaging:purpose', Value: 'pre-migration' },
          { Key: 'enhanced-messaging:pending', Value: known ? pending.join(' ').slice(0, 256) : 'unknown' },
        ],
      }),
    );
    logger.info('pre-migration snapshot started', { identifier, pending, ...(known ? {} : { pendingUnknownBecause: reason }) });
    return { PhysicalResourceId: physicalResourceId, [SNAPSHOT_KEY]: identifier };
  }

  async function isComplete(event: IsCompleteEvent): Promise<{ IsComplete: boolean; Data?: Record<string, string> }> {
    const identifier = event[SNAPSHOT_KEY];
    if (!identifier) return { IsComplete: true, Data: { [SNAPSHOT_KEY]: '' } };
    const { DescribeDBClusterSnapshotsCommand } = await import('@aws-sdk/client-rds');
    const answer = await options.rds().send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: identifier }));
    const status = answer.DBClusterSnapshots?.[0]?.Status;
    if (status === 'available') {
      logger.info('pre-migration snapshot available: the migrations may start', { identifier });
      return { IsComplete: true, Data: { [SNAPSHOT_KEY]: identifier } };
    }
    if (status === 'creating') return { IsComplete: false };
    throw new Error(`The pre-migration snapshot ${identifier} is ${status ?? 'missing'}: no migration was run. Retry the deploy.`);
  }

  /** The Lambda's entry point for both Provider calls: isComplete events carry onEvent's marker. */
  async function handler(event: CfnEvent | IsCompleteEvent) {
    try {
      return SNAPSHOT_KEY in event ? await isComplete(event as IsCompleteEvent) : await onEvent(event);
    } catch (error) {
      logger.error('pre-migration snapshot failed', error as Error);
      throw error;
    }
  }

  return { onEvent, isComplete, handler };
}

// ---------------------------------------------------------------------------
// Production wiring: the Data API as the verification user, RDS from the Lambda runtime's SDK.

let production: ReturnType<typeof createSnapshotHandlers> | undefined;

export async function handler(event: CfnEvent | IsCompleteEvent, context?: Context) {
  startInvocation(context);
  if (!production) {
    const { RDSClient } = await import('@aws-sdk/client-rds');
    const { getDatabase } = await import('../database/from-config');
    const client = new RDSClient({});
    const hash = process.env.EMS_MIGRATIONS_HASH?.trim();
    production = createSnapshotHandlers({ rds: () => client, database: getDatabase, ...(hash ? { migrationsHash: hash } : {}) });
  }
  return production.handler(event);
}
