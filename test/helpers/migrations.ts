/** Driving knex's migrator directly (as the CLI and the runner do) and reading its bookkeeping. */
import knexFactory, { type Knex } from 'knex';
import { migrationKnexConfig } from '../../functions/database/knex-config';
import type { Database } from '../../functions/database/port';
import { MIGRATIONS } from '../../migrations';

export const BASELINE_MIGRATION = '20250101000000_base_marketplace_schema.js';
export const ALL_MIGRATION_NAMES = MIGRATIONS.map((m) => m.name);

export async function withKnex<T>(url: string, work: (knex: Knex) => Promise<T>): Promise<T> {
  const knex = knexFactory(migrationKnexConfig(url));
  try {
    return await work(knex);
  } finally {
    await knex.destroy();
  }
}

/** Only the marketplace's own tables, as before the messaging migrations (the baseline migration alone). */
export async function createBaseSchemaOnly(url: string): Promise<void> {
  await withKnex(url, (knex) => knex.migrate.up({ name: BASELINE_MIGRATION }));
}

/** `knex.migrate.rollback(undefined, true)`: every applied migration, newest first. */
export async function rollbackAll(url: string): Promise<void> {
  await withKnex(url, (knex) => knex.migrate.rollback(undefined, true));
}

/** Names in knex_migrations in the order applied; [] when the table does not exist. */
export async function recordedMigrations(db: Database): Promise<string[]> {
  const [table] = await db.query<{ exists: boolean }>(`SELECT to_regclass('knex_migrations') IS NOT NULL AS exists`);
  if (!table?.exists) return [];
  const rows = await db.query<{ name: string }>('SELECT name FROM knex_migrations ORDER BY id');
  return rows.map((r) => r.name);
}

/** knex's lock row: null when the lock table does not exist. */
export async function knexLockState(db: Database): Promise<number[] | null> {
  const [table] = await db.query<{ exists: boolean }>(`SELECT to_regclass('knex_migrations_lock') IS NOT NULL AS exists`);
  if (!table?.exists) return null;
  const rows = await db.query<{ is_locked: number }>('SELECT is_locked FROM knex_migrations_lock ORDER BY 1');
  return rows.map((r) => r.is_locked);
}

export async function invalidIndexCount(db: Database): Promise<number> {
  const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_index WHERE NOT indisvalid');
  return row!.n;
}
