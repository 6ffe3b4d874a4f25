/**
 * The pre-migration snapshot (functions/handlers/pre-migration-snapshot.ts), driven as the Provider
 * framework drives it, through the real SDK clients: RDS against the local stand-in that speaks its
 * query protocol (test/infra/fake-aws.ts), the Data API against the local endpoint, logged in as
 * the read-only verification user the stack gives it.
 */
import { RDSClient } from '@aws-sdk/client-rds';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DataApiDatabase } from '../../functions/database/data-api-adapter';
import { createSnapshotHandlers, SNAPSHOT_PHYSICAL_RESOURCE_ID, snapshotIdentifier } from '../../functions/handlers/pre-migration-snapshot';
import { MIGRATION_NAMES } from '../../migrations/manifest';
import { LOCAL_RESOURCE_ARN, LOCAL_SECRET_ARN, startDataApiEndpoint, type DataApiEndpoint } from '../helpers/data-api-endpoint';
import { createMigratedDatabase, type TestDatabase } from '../helpers/database';
import { createEvent, deleteEvent, updateEvent } from './cfn-events';
import { startFakeAws, type FakeAws } from './fake-aws';
import { driveProvider } from './provider-driver';

const CLUSTER = 'enhanced-messaging-prod';
const HASH = 'c0ffee'.repeat(10) + 'abcd';
const properties = { MigrationsHash: HASH, ClusterIdentifier: CLUSTER };
const previous = { MigrationsHash: 'a'.repeat(64), ClusterIdentifier: CLUSTER };
const AT = new Date('2026-11-30T05:30:12.345Z');

let t: TestDatabase;
let aws: FakeAws;
let endpoint: DataApiEndpoint;
let verifierEndpoint: DataApiEndpoint | undefined;

beforeAll(async () => {
  t = await createMigratedDatabase();
  aws = await startFakeAws();
  aws.clusters.add(CLUSTER);
  endpoint = await startDataApiEndpoint({ connectionString: t.verifierUrl });
});
afterAll(async () => {
  await endpoint?.close();
  await aws?.close();
  await t?.drop();
});
beforeEach(() => {
  aws.calls.length = 0;
  for (const id of Object.keys(aws.snapshots)) delete aws.snapshots[id];
  aws.snapshotStatuses = ['creating', 'creating', 'available'];
});
afterEach(async () => {
  await verifierEndpoint?.close();
  verifierEndpoint = undefined;
});

const handlers = (through: DataApiEndpoint = endpoint) =>
  createSnapshotHandlers({
    rds: () => new RDSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, endpoint: aws.endpoint, maxAttempts: 1 }),
    database: async () => new DataApiDatabase({ resourceArn: LOCAL_RESOURCE_ARN, secretArn: LOCAL_SECRET_ARN, database: t.name, client: through.client() }),
    migrationsHash: HASH,
    now: () => AT,
  }).handler;

/** The last migration as not applied yet: this deploy would apply it. */
async function withPendingMigration<T>(work: () => Promise<T>): Promise<T> {
  const last = MIGRATION_NAMES.at(-1)!;
  const [row] = await t.db.query<{ id: number }>('DELETE FROM knex_migrations WHERE name = $1 RETURNING id', [last]);
  try {
    return await work();
  } finally {
    await t.db.query('INSERT INTO knex_migrations (id, name, batch, migration_time) VALUES ($1, $2, 1, now())', [row!.id, last]);
  }
}

describe('the pre-migration snapshot on deploy', () => {
  it('takes a named, tagged snapshot when a migration is pending, and answers only once it is available', async () => {
    const outcome = await withPendingMigration(() => driveProvider(handlers() as never, updateEvent(SNAPSHOT_PHYSICAL_RESOURCE_ID, properties, previous)));
    const identifier = `${CLUSTER}-pre-${HASH.slice(0, 12)}-20261130053012`;
    expect(snapshotIdentifier(CLUSTER, HASH, AT)).toBe(identifier);
    expect(outcome).toMatchObject({ Status: 'SUCCESS', Data: { SnapshotIdentifier: identifier }, isCompleteCalls: 3 });
    expect(aws.snapshots[identifier]).toMatchObject({
      cluster: CLUSTER,
      tags: { 'enhanced-messaging:purpose': 'pre-migration', 'enhanced-messaging:pending': MIGRATION_NAMES.at(-1) },
    });
    expect(aws.calls).toEqual(['RDS.CreateDBClusterSnapshot', 'RDS.DescribeDBClusterSnapshots', 'RDS.DescribeDBClusterSnapshots', 'RDS.DescribeDBClusterSnapshots']);
  });

  it('takes none when nothing is pending, on Create (a new cluster) and on Delete', async () => {
    for (const event of [
      updateEvent(SNAPSHOT_PHYSICAL_RESOURCE_ID, properties, previous),
      createEvent(properties),
      deleteEvent(SNAPSHOT_PHYSICAL_RESOURCE_ID, properties),
    ]) {
      const outcome = await driveProvider(handlers() as never, event);
      expect(outcome, event.RequestType).toMatchObject({ Status: 'SUCCESS', isCompleteCalls: 1 });
      expect(outcome.Data?.SnapshotIdentifier ?? '', event.RequestType).toBe('');
    }
    expect(aws.calls).toEqual([]);
  });

  it('takes none for an event naming other migrations (CloudFormation rolling back)', async () => {
    const outcome = await withPendingMigration(() =>
      driveProvider(handlers() as never, updateEvent(SNAPSHOT_PHYSICAL_RESOURCE_ID, previous, properties)),
    );
    expect(outcome.Status).toBe('SUCCESS');
    expect(aws.calls).toEqual([]);
  });

  it('takes one when it cannot tell what is applied (the verification user not made yet), saying so in a tag', async () => {
    verifierEndpoint = await startDataApiEndpoint({ connectionString: t.verifierUrl.replace(/:[^:@/]+@/, ':not-the-password@') });
    const outcome = await driveProvider(handlers(verifierEndpoint!) as never, updateEvent(SNAPSHOT_PHYSICAL_RESOURCE_ID, properties, previous));
    expect(outcome.Status).toBe('SUCCESS');
    const [snapshot] = Object.values(aws.snapshots);
    expect(snapshot?.tags['enhanced-messaging:pending']).toBe('unknown');
  });

  it('fails the deploy before any migration when the snapshot fails, or RDS refuses it', async () => {
    aws.snapshotStatuses = ['creating', 'failed'];
    const failed = await withPendingMigration(() => driveProvider(handlers() as never, updateEvent(SNAPSHOT_PHYSICAL_RESOURCE_ID, properties, previous)));
    expect(failed).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/pre-migration snapshot .* is failed: no migration was run/) });

    const unknown = { ...properties, ClusterIdentifier: 'no-such-cluster' };
    const refused = await withPendingMigration(() => driveProvider(handlers() as never, updateEvent(SNAPSHOT_PHYSICAL_RESOURCE_ID, unknown, previous)));
    expect(refused).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('DBCluster no-such-cluster not found') });
  });
});

