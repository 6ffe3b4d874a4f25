/**
 * migrations/lib/migration-footprints.ts against a clean run: each messaging migration, applied
 * after the ones before it on the baseline schema, creates, changes and drops exactly the objects
 * its footprint names. The pre-flight reads the footprints to tell the marketplace's objects from
 * the migrations' own, and the undo of a failed migration puts back exactly those objects.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MESSAGING_MIGRATION_NAMES } from '../../migrations';
import { MIGRATION_FOOTPRINTS, type MigrationFootprint } from '../../migrations/lib/migration-footprints';
import { differences, snapshotSchema, withKnexConnection } from '../../migrations/lib/schema-snapshot';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createBaseSchemaOnly, withKnex } from '../helpers/migrations';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await createBaseSchemaOnly(t.url);
});
afterAll(async () => t?.drop());

it('every messaging migration does to the schema what its footprint says, and has one', async () => {
  const actual: Record<string, MigrationFootprint> = {};
  await withKnex(t.url, async (knex) => {
    for (const name of MESSAGING_MIGRATION_NAMES) {
      const before = await withKnexConnection(knex, snapshotSchema);
      await knex.migrate.up({ name });
      actual[name] = differences(before, await withKnexConnection(knex, snapshotSchema));
    }
  });
  expect(actual, `migrations/lib/migration-footprints.ts is out of date; what a clean run does:\n${JSON.stringify(actual, null, 2)}`).toEqual(
    MIGRATION_FOOTPRINTS,
  );
});
