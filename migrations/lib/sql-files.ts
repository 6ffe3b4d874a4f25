/**
 * The database's code lives in `.sql` files under migrations/sql/ (one function or
 * trigger function, with its trigger, or view per file), grouped by concern:
 * routing/, membership/, ownership/, api/; history/<migration>/ holds what
 * migrations 1-3 defined, as they defined it. Migrations load them by name; the
 * checksum of a migration covers the files it names (lib/checksums.ts).
 *
 * Read when a migration runs, not when it is imported: the API and verification
 * bundles import the migration list but never run it. The migration Lambda's
 * bundle carries the files beside index.js (infra/constructs/schema-migrations.ts).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The migrations folder: this file's parent in the sources; the bundle's own folder in Lambda. */
export function migrationsRoot(): string {
  const sources = path.join(__dirname, '..');
  return existsSync(path.join(sources, 'sql')) ? sources : __dirname;
}

/** `relative` is e.g. `routing/get_listing_message_recipient.sql`. */
export function readSqlFile(relative: string, root: string = migrationsRoot()): string {
  const file = path.join(root, 'sql', relative);
  if (!existsSync(file)) throw new Error(`SQL file missing: migrations/sql/${relative} (looked in ${file})`);
  return readFileSync(file, 'utf8');
}

/** The `.sql` files a migration's source names, as `'<concern>/<name>.sql'` (or `'history/<migration>/<name>.sql'`) string literals. */
export function sqlFilesNamedIn(source: string): string[] {
  return [...new Set([...source.matchAll(/'((?:[a-z0-9_]+\/)+[a-z0-9_]+\.sql)'/g)].map((m) => m[1]!))].sort();
}

/** The files of `history/<migration>/`, in the order that migration ran them (their numbers), as `readSqlFile` names them. */
export function historySqlFiles(migration: string, root: string = migrationsRoot()): string[] {
  return readdirSync(path.join(root, 'sql', 'history', migration))
    .filter((name) => name.endsWith('.sql'))
    .sort()
    .map((name) => `history/${migration}/${name}`);
}
