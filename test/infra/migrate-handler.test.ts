/**
 * The migration custom resource handler (functions/handlers/migrate.ts),
 * invoked with CloudFormation Create / Update / Delete events against a real
 * PostgreSQL; the secret lookup is replaced by the test database's URL.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createMigrationHandler, MIGRATIONS_PHYSICAL_RESOURCE_ID, connectionStringFromSecret } from '../../functions/handlers/migrate';
import { verifyInstallation } from '../../functions/verification/verify';
import { MIGRATION_NAMES } from '../../migrations/manifest';
import { createMigratedDatabase, createTestDatabase, type TestDatabase } from '../helpers/database';
import * as m from '../helpers/marketplace';
import { createEvent, deleteEvent, updateEvent, type MigrationProperties } from './cfn-events';

let t: TestDatabase;
const first: MigrationProperties = { MigrationsHash: 'a'.repeat(64), CreateBaseSchema: 'true' };
const second: MigrationProperties = { MigrationsHash: 'b'.repeat(64), CreateBaseSchema: 'true' };
const fast = { initialDelayMs: 5, maxDelayMs: 20, deadlineMs: 5_000, connectTimeoutMs: 1_000 };

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

const appliedCount = async () => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM knex_migrations'))[0]!.n;

describe('the migration custom resource handler', () => {
  it('Create: migrates a brand-new database (base schema on) and the verification is green', async () => {
    const handler = createMigrationHandler({ resolveConnectionString: async () => t.url });
    const response = await handler(createEvent(first));
    expect(response.PhysicalResourceId).toBe(MIGRATIONS_PHYSICAL_RESOURCE_ID);
    expect(response.Data).toMatchObject({ AppliedCount: String(MIGRATION_NAMES.length), AlreadyAppliedCount: '0' });
    expect(response.Data!.Applied!.split(',')).toEqual([...MIGRATION_NAMES]);
    expect((await verifyInstallation(t.db)).ok).toBe(true);
  });

  it('Update with a changed hash on an up-to-date database: succeeds, applies nothing, same physical id', async () => {
    const company = await m.company(t.db);
    const owner = await m.seller(t.db, company, 'owner');
    await m.listing(t.db, owner, company);
    const handler = createMigrationHandler({ resolveConnectionString: async () => t.url });
    const response = await handler(updateEvent(MIGRATIONS_PHYSICAL_RESOURCE_ID, second, first));
    expect(response).toEqual({
      PhysicalResourceId: MIGRATIONS_PHYSICAL_RESOURCE_ID,
      Data: expect.objectContaining({ Applied: '', AppliedCount: '0', AlreadyAppliedCount: String(MIGRATION_NAMES.length) }),
    });
    expect(await appliedCount()).toBe(MIGRATION_NAMES.length);
  });

  it('Update when the verification fails: throws (the deploy fails) and names the failed check', async () => {
    const broken = await createMigratedDatabase();
    try {
      await broken.db.query('DROP VIEW active_company_members');
      const handler = createMigrationHandler({ resolveConnectionString: async () => broken.url });
      await expect(handler(updateEvent(MIGRATIONS_PHYSICAL_RESOURCE_ID, second, first))).rejects.toThrow(
        /Migrations failed at verify.*views created \(missing: active_company_members\)/s,
      );
    } finally {
      await broken.drop();
    }
  });

  it('Create on a database without the marketplace tables and CreateBaseSchema false: throws at pre-flight', async () => {
    const empty = await createTestDatabase();
    try {
      const handler = createMigrationHandler({ resolveConnectionString: async () => empty.url });
      await expect(handler(createEvent({ ...first, CreateBaseSchema: 'false' }))).rejects.toThrow(/Migrations failed at preflight: Base tables missing/);
    } finally {
      await empty.drop();
    }
  });

  it('keeps asking for the connection while the database is unreachable, then throws after the bounded retries', async () => {
    const resolve = vi.fn(async () => 'postgresql://nobody:secret@127.0.0.1:1/nothing');
    const run = vi.fn();
    const handler = createMigrationHandler({ resolveConnectionString: resolve, connectRetry: { ...fast, maxAttempts: 4 }, runMigrations: run });
    const started = Date.now();
    await expect(handler(createEvent(first))).rejects.toThrow(/Cannot connect to the database after 4 attempt\(s\)/);
    expect(resolve).toHaveBeenCalledTimes(4);
    expect(run).not.toHaveBeenCalled();
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('connects once the database answers (e.g. resumed from auto-pause, or the secret rotated)', async () => {
    const urls = ['postgresql://nobody:secret@127.0.0.1:1/nothing', 'postgresql://nobody:secret@127.0.0.1:1/nothing', t.url];
    const resolve = vi.fn(async () => urls.shift() ?? t.url);
    const handler = createMigrationHandler({ resolveConnectionString: resolve, connectRetry: fast });
    const response = await handler(updateEvent(MIGRATIONS_PHYSICAL_RESOURCE_ID, first, second));
    expect(resolve).toHaveBeenCalledTimes(3);
    expect(response.PhysicalResourceId).toBe(MIGRATIONS_PHYSICAL_RESOURCE_ID);
  });

  /** A handler whose (stubbed) run migrated nothing and whose verification reported `checks`. */
  const handlerReportingVerification = (checks: { name: string; ok: boolean; detail: string }[]) =>
    createMigrationHandler({
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
    const handler = handlerReportingVerification([{ name: 'triggers, indexes and columns', ok: false, detail }]);
    const error = await handler(createEvent(first)).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^Migrations failed at verify: .*triggers, indexes and columns/s);
    expect((error as Error).message.length).toBeLessThanOrEqual(1500);
  });

  it.each([
    ['data breaking the routing invariant', { name: 'routing invariant', ok: false, detail: 'violations (first 1): listing x -> y' }],
    ['a database already migrated by newer code (a rollback)', { name: 'migration status', ok: false, detail: '6 applied; applied but unknown to this code: 20260101000000_next.js' }],
  ])('%s does not fail the deploy (the scheduled verification alarms on it)', async (_name, check) => {
    const handler = handlerReportingVerification([{ name: 'tables created', ok: true, detail: '3 of 3 present' }, check]);
    await expect(handler(updateEvent(MIGRATIONS_PHYSICAL_RESOURCE_ID, second, first))).resolves.toMatchObject({
      PhysicalResourceId: MIGRATIONS_PHYSICAL_RESOURCE_ID,
    });
  });

  it('rejects a CreateBaseSchema property that is not a boolean string', async () => {
    const handler = createMigrationHandler({ resolveConnectionString: async () => t.url });
    await expect(handler(createEvent({ ...first, CreateBaseSchema: 'yes' as 'true' }))).rejects.toThrow(/CreateBaseSchema must be 'true' or 'false'/);
  });

  it('Delete: succeeds without touching the database, and the data stays', async () => {
    const before = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM listed_cars');
    const resolve = vi.fn(async () => t.url);
    const handler = createMigrationHandler({ resolveConnectionString: resolve });
    const response = await handler(deleteEvent(MIGRATIONS_PHYSICAL_RESOURCE_ID, first));
    expect(response).toEqual({ PhysicalResourceId: MIGRATIONS_PHYSICAL_RESOURCE_ID });
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
