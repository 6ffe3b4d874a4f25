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
 * Earlier checksums of a migration whose source changed without changing what it does to a database
 * that applied the earlier source, so such a database is not reported as tampered with:
 *  - migrations 1-3 once held their functions, triggers and views in TypeScript strings; the same
 *    SQL now lives in migrations/sql/history/<migration>/ (the catalog of a clean run is compared by
 *    the tests);
 *  - every migration before 20261206120000_entity_id_domains declared entity ids as `uuid`; they now
 *    name the entity's id domain (migrations/sql/ids/ems_id_domains.sql), which is uuid on every
 *    database those sources were applied to (they took uuid ids only), and the baseline takes the
 *    demo tables' id type from EMS_ID_TYPE (uuid unless set).
 */
export const EQUIVALENT_EARLIER_CHECKSUMS: Readonly<Record<string, readonly string[]>> = {
  '20250101000000_base_marketplace_schema.js': ['7432234881305d65dc973273bf196f608182af247371d7d0dfc85f03e463e283'],
  '20250622120000_enhanced_member_management.js': ['ceffca925cd9d7f9ee220b34c0155cebc30df56c5345b6c44d63d199bcb25639', 'd950ab7f35ea63173749496e997c4b98b8cc278dad69aaaecbe739b986722e19'],
  '20250622121000_messaging_ownership_tracking.js': ['356588fbb33b294ddf985897ba99db3a77b870cc63b3b53999d8aeb28e648954', 'cad43edb9528f953926567b87ee6e6a6be2c4f1deb8379f666c315b32f9934f8'],
  '20250622122000_messaging_conversation_tracking.js': ['c246dcbed5c92de44b93247cf2bee7ee2432bcbd59e26558b324f7065d71ddf5', 'b0f1a2257881fa40d3f67d12b4b88adce40e72a9e1c32bef6754ce3b2df9a66f'],
  '20250622123000_messaging_final_setup.js': ['986c5d9c20429618cda44aba72e4067921ec6312eac53bc2c9b2470507f5eea2'],
  '20261130120000_company_scoped_routing.js': ['e2d181c52fd787b22472304365e3f8bd3f1dc59b62b2adda606981fba8102164'],
  '20261130130000_api_route_functions.js': ['ec754d4cbcf3c3df54308de40b260f2a1834b03a09cc17ee68cce169e860d8aa'],
  '20261130150000_ownership_events_outbox.js': ['d44c2f8584c392b1402cc1de3a7d6bb7a93efaae287d9f607de6634c55e9dbfd'],
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
