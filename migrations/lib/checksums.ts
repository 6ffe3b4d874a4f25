/**
 * Tamper detection: the checksum of each migration's source is recorded when it
 * is applied, and the verification compares it with the source in hand.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';

export const CHECKSUM_TABLE = 'knex_migrations_checksums';

/** sha256 of the migration's TypeScript source, or null where the source is not on disk. */
export function migrationChecksum(name: string): string | null {
  const file = path.join(__dirname, '..', name.replace(/\.js$/, '.ts'));
  if (!existsSync(file)) return null;
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

export async function recordChecksum(knex: Knex, name: string): Promise<void> {
  const checksum = migrationChecksum(name);
  if (checksum === null) return;
  await knex.raw(`CREATE TABLE IF NOT EXISTS ${CHECKSUM_TABLE} (
    name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  await knex.raw(
    `INSERT INTO ${CHECKSUM_TABLE} (name, checksum) VALUES (?, ?)
     ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()`,
    [name, checksum],
  );
}

export async function forgetChecksum(knex: Knex, name: string): Promise<void> {
  if (await knex.schema.hasTable(CHECKSUM_TABLE)) await knex(CHECKSUM_TABLE).where({ name }).delete();
}
