/**
 * The Lambda bundles as `cdk synth` builds them (esbuild, locally), synthesized
 * once: each under the 1 MB budget with the AWS SDK left to the runtime, and
 * the migration and verification bundles run for real on PostgreSQL from a
 * directory without the migration sources, as in Lambda, where the checksums
 * come from EMS_MIGRATION_CHECKSUMS.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATION_NAMES } from '../../migrations/manifest';
import { migrationChecksums } from '../../infra/migration-assets';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createEvent } from './cfn-events';
import { driveProvider } from './provider-driver';
import { synthesize, type SynthesizedApp } from './synth';

const MAX_BUNDLE_BYTES = 1024 * 1024;
let app: SynthesizedApp;
let lambdaRoot: string;
let t: TestDatabase;

beforeAll(async () => {
  // cdk-nag is checked by stacks.test.ts on the same app; here only the bundles matter.
  app = synthesize({}, { bundle: true, nag: false });
  lambdaRoot = mkdtempSync(path.join(os.tmpdir(), 'ems-lambda-'));
  t = await createTestDatabase();
});
afterAll(async () => {
  rmSync(lambdaRoot, { recursive: true, force: true });
  await t?.drop();
});

interface BundledFunction {
  readonly id: string;
  readonly description: string;
  readonly directory: string;
  readonly environment: Record<string, string>;
}

function bundledFunctions(): BundledFunction[] {
  return [app.statefulTemplate, app.apiTemplate].flatMap((template) =>
    Object.entries(template.findResources('AWS::Lambda::Function'))
      .filter(([, fn]) => fn.Properties.Handler === 'index.handler' && fn.Properties.Runtime === 'nodejs24.x')
      .filter(([, fn]) => !String(fn.Properties.Description ?? '').startsWith('AWS CDK'))
      .map(([id, fn]) => ({
        id,
        description: String(fn.Properties.Description ?? ''),
        directory: path.join(app.assemblyDirectory, `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')}`),
        environment: fn.Properties.Environment?.Variables ?? {},
      })),
  );
}

/** Copies a bundle where Lambda would have it: alone, with no sources around. */
function loadInIsolation(fn: BundledFunction): Record<string, unknown> {
  const directory = path.join(lambdaRoot, fn.id, 'task');
  cpSync(fn.directory, directory, { recursive: true });
  return createRequire(import.meta.url)(path.join(directory, 'index.js')) as Record<string, unknown>;
}

function withEnvironment<T>(variables: Record<string, string>, work: () => Promise<T>): Promise<T> {
  const previous = Object.fromEntries(Object.keys(variables).map((k) => [k, process.env[k]]));
  Object.assign(process.env, variables);
  return work().finally(() => {
    for (const [k, v] of Object.entries(previous)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}

const byDescription = (prefix: string) => bundledFunctions().find((f) => f.description.startsWith(prefix))!;

describe('Lambda bundles', () => {
  it('bundles every project function (route handlers, verification, migrations), each under 1 MB with a source map', () => {
    const functions = bundledFunctions();
    expect(functions.length).toBe(Object.keys(app.api.httpApi.handlers).length + 2);
    for (const fn of functions) {
      const size = statSync(path.join(fn.directory, 'index.js')).size;
      expect(size, `${fn.description}: ${size} bytes`).toBeLessThan(MAX_BUNDLE_BYTES);
      expect(statSync(path.join(fn.directory, 'index.js.map')).isFile()).toBe(true);
    }
  });

  it('leaves the AWS SDK to the Node.js runtime and bundles everything else', () => {
    const route = readFileSync(path.join(byDescription('GET /health').directory, 'index.js'), 'utf8');
    expect(route).toContain('require("@aws-sdk/client-rds-data")');
    expect(route).not.toMatch(/require\("(zod|pg|@aws-lambda-powertools\/[a-z]+)"\)/);
  });

  it('the migration bundle, alone, migrates a new database and records the checksums from EMS_MIGRATION_CHECKSUMS', async () => {
    const fn = byDescription('Runs the messaging migrations');
    expect(JSON.parse(fn.environment.EMS_MIGRATION_CHECKSUMS!)).toEqual(migrationChecksums());
    const bundle = loadInIsolation(fn);
    const createMigrationHandlers = bundle.createMigrationHandlers as typeof import('../../functions/handlers/migrate').createMigrationHandlers;
    // The Provider's onEvent and isComplete calls, through the bundle's one entry point, with the stack's hash.
    const migrationsHash = fn.environment.EMS_MIGRATIONS_HASH!;
    const { handler } = createMigrationHandlers({ resolveConnectionString: async () => t.url, migrationsHash });
    const outcome = await withEnvironment({ EMS_MIGRATION_CHECKSUMS: fn.environment.EMS_MIGRATION_CHECKSUMS! }, () =>
      driveProvider(handler, createEvent({ MigrationsHash: migrationsHash, CreateBaseSchema: 'true' })),
    );
    expect(outcome).toMatchObject({ Status: 'SUCCESS', Data: { AppliedCount: String(MIGRATION_NAMES.length), LatestMigration: MIGRATION_NAMES.at(-1) } });
    // The same rows whichever runner applied them (CLI, runner, bundled Lambda).
    const applied = await t.db.query<{ name: string }>('SELECT name FROM knex_migrations ORDER BY id');
    expect(applied.map((r) => r.name)).toEqual([...MIGRATION_NAMES]);
    const recorded = await t.db.query<{ name: string; checksum: string }>('SELECT name, checksum FROM knex_migrations_checksums');
    expect(Object.fromEntries(recorded.map((r) => [r.name, r.checksum]))).toEqual(migrationChecksums());
  });

  it('the verification bundle, alone, compares every applied migration with EMS_MIGRATION_CHECKSUMS and reports green', async () => {
    const fn = byDescription('Scheduled verification');
    const bundle = loadInIsolation(fn);
    const handler = bundle.handler as typeof import('../../functions/handlers/scheduled-verification').handler;
    const report = await withEnvironment(
      { DATABASE_URL: t.url, EMS_MIGRATION_CHECKSUMS: fn.environment.EMS_MIGRATION_CHECKSUMS!, POWERTOOLS_METRICS_DISABLED: 'true' },
      () => handler(),
    );
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.checks.find((c) => c.name === 'migration checksums')!.detail).toBe(`${MIGRATION_NAMES.length} applied migration files unchanged`);
  });
});
