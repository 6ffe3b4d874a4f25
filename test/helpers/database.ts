/** Fresh databases for tests, on the server provided by global-setup.ts. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, inject } from 'vitest';
import { databaseUrl } from '../../functions/database/local-postgres';
import { PgDatabase } from '../../functions/database/pg-adapter';
import { LOCAL_API_USER, LOCAL_RELAY_USER, LOCAL_VERIFIER_USER } from '../../functions/local/login-users';
import { connectionStringAs } from '../../functions/migration-runner/login-roles';
import { runMessagingMigrations, type RunnerReport } from '../../functions/migration-runner/runner';
import type { IdType } from '../../functions/shared/config';

export interface TestDatabase {
  readonly name: string;
  /** As the server's admin user: the migrations, setting up and observing. */
  readonly url: string;
  readonly db: PgDatabase;
  /** As the login user the API runs as (member of ems_route_caller, as in AWS). */
  readonly apiUrl: string;
  /** As the login user the scheduled verification runs as (member of ems_reader). */
  readonly verifierUrl: string;
  /** As the login user the event relay runs as (member of ems_event_relay). */
  readonly relayUrl: string;
  drop(): Promise<void>;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** An empty database of its own (dropped, with its connections, by `drop`). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `ems_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = databaseUrl(inject('pgAdminUrl'), name);
  const db = new PgDatabase(url, { max: 8, applicationName: 'ems-test' });
  return {
    name,
    url,
    db,
    apiUrl: connectionStringAs(url, LOCAL_API_USER),
    verifierUrl: connectionStringAs(url, LOCAL_VERIFIER_USER),
    relayUrl: connectionStringAs(url, LOCAL_RELAY_USER),
    drop: async () => {
      await db.close();
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** For a test file that makes databases as it goes: each is dropped once the file's tests are done. */
export function databasesDroppedAfterAll(): () => Promise<TestDatabase> {
  const made: TestDatabase[] = [];
  afterAll(async () => {
    await Promise.all(made.map((t) => t.drop()));
  });
  return async () => {
    const t = await createTestDatabase();
    made.push(t);
    return t;
  };
}

/**
 * Runs the migration runner (with the base schema) and fails loudly if it did not go green. With
 * `idType`, the base tables get ids of that type (EMS_ID_TYPE, set for the run only).
 */
export async function migrateToLatest(url: string, idType?: IdType): Promise<RunnerReport> {
  const before = process.env.EMS_ID_TYPE;
  if (idType) process.env.EMS_ID_TYPE = idType;
  try {
    const report = await runMessagingMigrations({ connectionString: url, createBaseSchema: true });
    if (!report.ok) throw new Error(`migration runner failed: ${JSON.stringify(report.failure ?? report.verification, null, 2)}`);
    return report;
  } finally {
    if (before === undefined) delete process.env.EMS_ID_TYPE;
    else process.env.EMS_ID_TYPE = before;
  }
}

/** A fresh database migrated to the latest schema (its base tables with `idType` ids, uuid unless given). */
export async function createMigratedDatabase(idType?: IdType): Promise<TestDatabase> {
  const database = await createTestDatabase();
  await migrateToLatest(database.url, idType);
  return database;
}

/**
 * The marketplace id types the routing suites run on (README: Id types): uuid, and integer for the
 * numeric ones (bigint takes the same paths; api-id-types.test.ts covers all three).
 */
export const ROUTING_ID_TYPES = ['uuid', 'integer'] as const satisfies readonly IdType[];
