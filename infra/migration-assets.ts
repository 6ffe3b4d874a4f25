/**
 * Facts about the migration sources, computed at synth time:
 * - a hash of every migration source file, put on the migration custom
 *   resource so that any change to a migration makes CloudFormation send an
 *   Update (and so run the migrations);
 * - each migration's checksum, for the bundled Lambdas that have no source
 *   files to read (EMS_MIGRATION_CHECKSUMS, see migrations/lib/checksums.ts).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { checksumOfMigrationSources, MIGRATION_CHECKSUMS_ENV } from '../migrations/lib/checksums';
import { MIGRATION_NAMES } from '../migrations/manifest';
import { MIGRATIONS_DIR } from './paths';

export { MIGRATION_CHECKSUMS_ENV };

function sourceFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) return sourceFiles(path.join(dir, entry.name), relative);
    return entry.isFile() && /\.(ts|sql)$/.test(entry.name) ? [relative] : [];
  });
}

/**
 * sha256 over migrations/**\/*.{ts,sql}: each file's path (relative, '/'-separated)
 * and bytes, in sorted path order, so the hash depends on content and names only.
 */
export function hashMigrationSources(dir: string = MIGRATIONS_DIR): string {
  const hash = createHash('sha256');
  for (const relative of sourceFiles(dir).sort()) {
    const bytes = readFileSync(path.join(dir, relative));
    hash.update(`${relative}\0${bytes.length}\0`);
    hash.update(bytes);
  }
  return hash.digest('hex');
}

/**
 * Recorded migration name (`<file>.js`) → the checksum of its sources (migrations/lib/checksums.ts),
 * computed here because the bundles carry no sources.
 */
export function migrationChecksums(dir: string = MIGRATIONS_DIR): Record<string, string> {
  return Object.fromEntries(
    MIGRATION_NAMES.map((name) => {
      const checksum = checksumOfMigrationSources(dir, name);
      if (checksum === null) throw new Error(`migration source missing for ${name} in ${dir}`);
      return [name, checksum];
    }),
  );
}
