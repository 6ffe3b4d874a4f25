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
import { MIGRATION_CHECKSUMS_ENV } from '../migrations/lib/checksums';
import { MIGRATION_NAMES } from '../migrations/manifest';
import { MIGRATIONS_DIR } from './paths';

export { MIGRATION_CHECKSUMS_ENV };

function typeScriptFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) return typeScriptFiles(path.join(dir, entry.name), relative);
    return entry.isFile() && entry.name.endsWith('.ts') ? [relative] : [];
  });
}

/**
 * sha256 over migrations/**\/*.ts: each file's path (relative, '/'-separated)
 * and bytes, in sorted path order, so the hash depends on content and names only.
 */
export function hashMigrationSources(dir: string = MIGRATIONS_DIR): string {
  const hash = createHash('sha256');
  for (const relative of typeScriptFiles(dir).sort()) {
    const bytes = readFileSync(path.join(dir, relative));
    hash.update(`${relative}\0${bytes.length}\0`);
    hash.update(bytes);
  }
  return hash.digest('hex');
}

/**
 * Recorded migration name (`<file>.js`) → sha256 of the bytes of its source
 * `migrations/<file>.ts`: the algorithm of `migrationChecksum` in
 * migrations/lib/checksums.ts, applied here because the bundles carry no sources.
 */
export function migrationChecksums(dir: string = MIGRATIONS_DIR): Record<string, string> {
  return Object.fromEntries(
    MIGRATION_NAMES.map((name) => [
      name,
      createHash('sha256')
        .update(readFileSync(path.join(dir, name.replace(/\.js$/, '.ts'))))
        .digest('hex'),
    ]),
  );
}
