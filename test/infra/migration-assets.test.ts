/**
 * What the CDK app computes from the migration sources at synth time: the hash
 * on the migration custom resource (a changed migration must change it, so a
 * deploy runs the migrations) and the checksums the bundled Lambdas receive in
 * EMS_MIGRATION_CHECKSUMS (the same ones the runner records from the sources).
 */
import { appendFileSync, cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATION_CHECKSUMS_ENV, migrationChecksum } from '../../migrations/lib/checksums';
import { MIGRATION_NAMES } from '../../migrations/manifest';
import { hashMigrationSources, migrationChecksums } from '../../infra/migration-assets';
import { MIGRATIONS_DIR } from '../../infra/paths';

let copy: string;

beforeEach(() => {
  copy = mkdtempSync(path.join(os.tmpdir(), 'ems-migrations-'));
  cpSync(MIGRATIONS_DIR, copy, { recursive: true });
});
afterEach(() => rmSync(copy, { recursive: true, force: true }));

describe('hashMigrationSources', () => {
  it('is the same for identical sources wherever they are', () => {
    expect(hashMigrationSources(copy)).toBe(hashMigrationSources(MIGRATIONS_DIR));
  });

  it('changes when one byte of a migration changes', () => {
    const before = hashMigrationSources(copy);
    const file = path.join(copy, MIGRATION_NAMES[2].replace(/\.js$/, '.ts'));
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    writeFileSync(file, bytes);
    expect(hashMigrationSources(copy)).not.toBe(before);
  });

  it('changes when a helper under migrations/lib changes, or a migration is added or renamed', () => {
    const original = hashMigrationSources(copy);
    appendFileSync(path.join(copy, 'lib', 'safe-ddl.ts'), '\n');
    const libChanged = hashMigrationSources(copy);
    expect(libChanged).not.toBe(original);

    writeFileSync(path.join(copy, '20990101000000_later.ts'), 'export {};\n');
    const added = hashMigrationSources(copy);
    expect(added).not.toBe(libChanged);

    renameSync(path.join(copy, '20990101000000_later.ts'), path.join(copy, '20990101000001_later.ts'));
    expect(hashMigrationSources(copy)).not.toBe(added);
  });

  it('ignores files that are not TypeScript sources', () => {
    const before = hashMigrationSources(copy);
    writeFileSync(path.join(copy, 'NOTES.md'), 'notes');
    expect(hashMigrationSources(copy)).toBe(before);
  });
});

describe('migrationChecksums (EMS_MIGRATION_CHECKSUMS)', () => {
  it('has, for every recorded migration name, the checksum the runner records from its source', () => {
    const checksums = migrationChecksums();
    expect(Object.keys(checksums)).toEqual([...MIGRATION_NAMES]);
    for (const name of MIGRATION_NAMES) expect(checksums[name], name).toBe(migrationChecksum(name));
  });

  it('follows a changed migration', () => {
    const file = path.join(copy, MIGRATION_NAMES[1].replace(/\.js$/, '.ts'));
    appendFileSync(file, '// edited\n');
    expect(migrationChecksums(copy)[MIGRATION_NAMES[1]]).not.toBe(migrationChecksums()[MIGRATION_NAMES[1]]);
    expect(migrationChecksums(copy)[MIGRATION_NAMES[0]]).toBe(migrationChecksums()[MIGRATION_NAMES[0]]);
  });
});

describe('migrationChecksum without the sources (a bundled Lambda)', () => {
  const previous = process.env[MIGRATION_CHECKSUMS_ENV];
  afterEach(() => {
    if (previous === undefined) delete process.env[MIGRATION_CHECKSUMS_ENV];
    else process.env[MIGRATION_CHECKSUMS_ENV] = previous;
  });
  const absent = '20990101000000_not_on_disk.js';
  const sha = 'a'.repeat(64);

  it('reads the checksum from EMS_MIGRATION_CHECKSUMS', () => {
    process.env[MIGRATION_CHECKSUMS_ENV] = JSON.stringify({ [absent]: sha });
    expect(migrationChecksum(absent)).toBe(sha);
  });

  it('prefers the source on disk when there is one', () => {
    process.env[MIGRATION_CHECKSUMS_ENV] = JSON.stringify({ [MIGRATION_NAMES[0]]: sha });
    expect(migrationChecksum(MIGRATION_NAMES[0])).toBe(migrationChecksums()[MIGRATION_NAMES[0]]);
  });

  it('is null when neither the source nor the variable knows the migration', () => {
    delete process.env[MIGRATION_CHECKSUMS_ENV];
    expect(migrationChecksum(absent)).toBeNull();
    process.env[MIGRATION_CHECKSUMS_ENV] = JSON.stringify({ other: sha });
    expect(migrationChecksum(absent)).toBeNull();
  });

  it('refuses a malformed variable instead of skipping the check', () => {
    process.env[MIGRATION_CHECKSUMS_ENV] = '{not json';
    expect(() => migrationChecksum(absent)).toThrow(/EMS_MIGRATION_CHECKSUMS is not valid JSON/);
    process.env[MIGRATION_CHECKSUMS_ENV] = '["a"]';
    expect(() => migrationChecksum(absent)).toThrow(/must be a JSON object/);
  });
});
