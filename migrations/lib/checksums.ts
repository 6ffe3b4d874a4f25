/**
 * Tamper detection: the checksum of each migration's source is recorded when it
 * is applied, and the verification compares it with the source in hand.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { migrationChecksumsFromEnvironment } from '../../functions/shared/config';
import { sqlFilesNamedIn } from './sql-files';

export const CHECKSUM_TABLE = 'knex_migrations_checksums';

/**
 * Where the sources are not on disk (the bundled migration and verification
 * Lambdas), this variable carries the checksums instead: a JSON object from the
 * recorded migration name (`<file>.js`) to the sha256 of `migrations/<file>.ts`,
 * computed when the CDK app is synthesized (infra/migration-assets.ts).
 */
export const MIGRATION_CHECKSUMS_ENV = 'EMS_MIGRATION_CHECKSUMS';

function checksumFromEnvironment(name: string): string | null {
  const checksum = migrationChecksumsFromEnvironment()?.[name];
  return typeof checksum === 'string' && /^[0-9a-f]{64}$/.test(checksum) ? checksum : null;
}

/**
 * sha256 of the migration's TypeScript source followed by each `.sql` file it names
 * (in name order), read from the migrations folder `dir`; null when the source is not there.
 */
export function checksumOfMigrationSources(dir: string, name: string): string | null {
  const file = path.join(dir, name.replace(/\.js$/, '.ts'));
  if (!existsSync(file)) return null;
  const source = readFileSync(file);
  const hash = createHash('sha256').update(source);
  for (const sql of sqlFilesNamedIn(source.toString('utf8'))) hash.update(readFileSync(path.join(dir, 'sql', sql)));
  return hash.digest('hex');
}

/**
 * The checksum of the migration's sources (checksumOfMigrationSources); where they are not on
 * disk, the checksum recorded for it in EMS_MIGRATION_CHECKSUMS; null when neither has it.
 */
export function migrationChecksum(name: string): string | null {
  return checksumOfMigrationSources(path.join(__dirname, '..'), name) ?? checksumFromEnvironment(name);
}

/**
 * Earlier checksums of a migration whose source was reorganised without changing what it does, so a
 * database that applied the earlier source is not reported as tampered with. Migrations 1-3 once held
 * their functions, triggers and views in TypeScript strings; the same SQL now lives in
 * migrations/sql/history/<migration>/ (the catalog of a clean run is compared by the tests).
 */
export const EQUIVALENT_EARLIER_CHECKSUMS: Readonly<Record<string, readonly string[]>> = {
  '20250622120000_enhanced_member_management.js': ['ceffca925cd9d7f9ee220b34c0155cebc30df56c5345b6c44d63d199bcb25639'],
  '20250622121000_messaging_ownership_tracking.js': ['356588fbb33b294ddf985897ba99db3a77b870cc63b3b53999d8aeb28e648954'],
  '20250622122000_messaging_conversation_tracking.js': ['c246dcbed5c92de44b93247cf2bee7ee2432bcbd59e26558b324f7065d71ddf5'],
};

/** Whether `recorded` (what was applied) matches `current` (the source in hand), or an equivalent earlier source. */
export function checksumMatches(name: string, recorded: string, current: string): boolean {
  return recorded === current || (EQUIVALENT_EARLIER_CHECKSUMS[name] ?? []).includes(recorded);
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
