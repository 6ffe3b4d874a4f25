/**
 * The Lambda bundles as `cdk synth` builds them (esbuild, locally), synthesized
 * once: each under the 1 MB budget (an API handler's under 250 KB) with the AWS
 * SDK left to the runtime, and node-postgres left out of every function that
 * reaches the database only through the Data API. The bundles run for real on
 * PostgreSQL from a directory without the sources, as in Lambda: the migration
 * bundle with the checksums from EMS_MIGRATION_CHECKSUMS; the API and
 * verification bundles in a fresh process that can reach nothing but the
 * runtime's AWS SDK, through the local Data API endpoint.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES, type RouteId } from '../../functions/http/routes';
import type { VerificationReport } from '../../functions/verification/verify';
import { MIGRATION_NAMES } from '../../migrations/manifest';
import { migrationChecksums } from '../../infra/migration-assets';
import { apiEvent, claimsFor, requestReachingTheDatabase } from '../helpers/api-events';
import { startDataApiEndpoint } from '../helpers/data-api-endpoint';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createLambdaSandbox, dataApiEnvironment, invokeInFreshProcess, lambdaContext, type LambdaSandbox } from '../helpers/lambda-sandbox';
import { createEvent } from './cfn-events';
import { driveProvider } from './provider-driver';
import { synthesize, type SynthesizedApp } from './synth';

const MAX_BUNDLE_BYTES = 1024 * 1024;
/** An API handler's budget (README: Performance): what a cold start loads before it can answer. */
const MAX_API_BUNDLE_BYTES = 250 * 1024;
/** A string of node-postgres' own code (its SCRAM authentication): in a bundle only if pg was bundled. */
const NODE_POSTGRES_CODE = 'SCRAM-SERVER-FIRST-MESSAGE';
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
const routeFunction = (id: RouteId) => {
  const route = ROUTES.find((r) => r.id === id)!;
  return byDescription(`${route.method} ${route.path}:`);
};
/** The function's own settings from the template (the ARNs, tokens there, are the local endpoint's in `dataApiEnvironment`). */
const literalEnvironment = (fn: BundledFunction): Record<string, string> => Object.fromEntries(Object.entries(fn.environment).filter(([, v]) => typeof v === 'string'));


describe('Lambda bundles', () => {
  it('bundles every project function (route handlers, verification, event relay, migrations), each under 1 MB with a source map', () => {
    const functions = bundledFunctions();
    expect(functions.length).toBe(Object.keys(app.api.httpApi.handlers).length + 3);
    for (const fn of functions) {
      const size = statSync(path.join(fn.directory, 'index.js')).size;
      expect(size, `${fn.description}: ${size} bytes`).toBeLessThan(MAX_BUNDLE_BYTES);
      expect(statSync(path.join(fn.directory, 'index.js.map')).isFile()).toBe(true);
    }
  });

  it('keeps every API handler under 250 KB', () => {
    for (const route of ROUTES) {
      const size = statSync(path.join(routeFunction(route.id).directory, 'index.js')).size;
      expect(size, `${route.id}: ${size} bytes`).toBeLessThanOrEqual(MAX_API_BUNDLE_BYTES);
    }
  });

  it('leaves the AWS SDK to the Node.js runtime, node-postgres out of every function on the Data API alone, and bundles everything else', () => {
    for (const fn of bundledFunctions()) {
      const code = readFileSync(path.join(fn.directory, 'index.js'), 'utf8');
      expect(code, fn.description).not.toMatch(/require\("(zod|zod\/mini|@aws-lambda-powertools\/[a-z]+)"\)/);
      if (fn.environment.DATA_API_RESOURCE_ARN !== undefined) {
        expect(code, fn.description).toContain('require("@aws-sdk/client-rds-data")');
        expect(code, fn.description).not.toContain(NODE_POSTGRES_CODE);
      } else {
        expect(code, fn.description).toContain(NODE_POSTGRES_CODE);
      }
    }
    // The routes, the verification and the event relay.
    expect(bundledFunctions().filter((fn) => fn.environment.DATA_API_RESOURCE_ARN !== undefined)).toHaveLength(ROUTES.length + 2);
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

  describe('on the Data API alone, as deployed (after the migration bundle above migrated the database)', () => {
    let endpoint: Awaited<ReturnType<typeof startDataApiEndpoint>>;
    const sandboxes: LambdaSandbox[] = [];
    beforeAll(async () => {
      endpoint = await startDataApiEndpoint({ connectionString: t.url });
    });
    afterAll(async () => {
      await Promise.all(sandboxes.map((s) => s.cleanup()));
      await endpoint?.close();
    });

    /** The bundle alone in a task directory, in a fresh process with the function's settings, no DATABASE_URL, the local Data API. */
    async function inSandbox(fn: BundledFunction, functionName: string, extra: Record<string, string> = {}) {
      const sandbox = await createLambdaSandbox(fn.directory);
      sandboxes.push(sandbox);
      const environment: Record<string, string> = {
        ...literalEnvironment(fn),
        ...dataApiEnvironment({ endpointUrl: endpoint.url, database: t.name, functionName }),
        NODE_PATH: sandbox.nodePath,
        ...extra,
      };
      return { sandbox, environment };
    }

    it('every API bundle answers through the Data API without node-postgres, which its task directory cannot even resolve', async () => {
      for (const route of ROUTES) {
        const fn = routeFunction(route.id);
        const { sandbox, environment } = await inSandbox(fn, route.id);
        expect(environment.DATABASE_URL).toBeUndefined();
        // As in Lambda: from the task, pg is nowhere to be found (so answering proves it was never loaded).
        const resolvePg = spawnSync(process.execPath, ['-e', 'require.resolve("pg")'], { cwd: path.dirname(sandbox.module), env: { PATH: process.env.PATH, NODE_PATH: sandbox.nodePath } });
        expect(resolvePg.status, route.id).not.toBe(0);

        const before = endpoint.requests.length;
        const run = await invokeInFreshProcess({
          module: sandbox.module,
          environment,
          invocations: [{ event: apiEvent(route.id, requestReachingTheDatabase(route.id)), context: lambdaContext(route.id) }],
        });
        const [response] = run.responses as { statusCode: number; body: string }[];
        expect(response!.statusCode, `${route.id}: ${response!.body}`).toBe(route.id === 'health' ? 200 : 403);
        expect(endpoint.requests.slice(before).map((r) => r.operation), route.id).toEqual(['ExecuteStatement']);
      }
    });

    it("answers a malformed request with zod's English messages", async () => {
      const { sandbox, environment } = await inSandbox(routeFunction('sendMessage'), 'sendMessage');
      const event = apiEvent('sendMessage', { body: { listingId: 'not-a-uuid', body: 3, extra: true }, claims: claimsFor('nobody@nowhere.test') });
      const run = await invokeInFreshProcess({ module: sandbox.module, environment, invocations: [{ event, context: lambdaContext('sendMessage') }] });
      const [response] = run.responses as { statusCode: number; body: string }[];
      expect(response!.statusCode).toBe(400);
      expect(JSON.parse(response!.body).error.message).toBe(
        'Invalid body: listingId: listingId must be a UUID; body: Invalid input: expected string, received number; value: Unrecognized key: "extra"',
      );
    });

    it('logs an unexpected error with its stack trace in the TypeScript sources', async () => {
      const { sandbox, environment } = await inSandbox(routeFunction('health'), 'health', { POWERTOOLS_LOG_LEVEL: 'INFO' });
      // A Data API answer no code path expects: the handler's unexpected-error path, 500.
      endpoint.failNext(1, 'BadRequestException', { message: 'an answer nobody expects' });
      const run = await invokeInFreshProcess({ module: sandbox.module, environment, invocations: [{ event: apiEvent('health'), context: lambdaContext('health') }] });
      expect((run.responses[0] as { statusCode: number }).statusCode).toBe(500);
      const logged = run.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { message: string; error?: { location: string; stack: string } });
      const error = logged.find((l) => l.message === 'unexpected error')!.error!;
      expect(error.location).toMatch(/\/functions\/database\/data-api-adapter\.ts:\d+$/);
      expect(error.stack).toMatch(/\n    at (async )?\S+ \(\S*\/functions\/database\/data-api-adapter\.ts:\d+:\d+\)/);
      expect(error.stack).toMatch(/\/functions\/http\/handler-kit\.ts:\d+:\d+/);
      expect(error.stack).not.toMatch(/index\.js:\d+:\d+/);
    });

    it('the verification bundle compares every applied migration with EMS_MIGRATION_CHECKSUMS and reports green', async () => {
      const fn = byDescription('Scheduled verification');
      const { sandbox, environment } = await inSandbox(fn, 'verification', { POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'SILENT' });
      expect(JSON.parse(environment.EMS_MIGRATION_CHECKSUMS!)).toEqual(migrationChecksums());
      const run = await invokeInFreshProcess({ module: sandbox.module, environment, invocations: [{ event: {}, context: lambdaContext('verification') }] });
      const [report] = run.responses as VerificationReport[];
      expect(report!.checks.filter((c) => !c.ok)).toEqual([]);
      expect(report!.checks.find((c) => c.name === 'migration checksums')!.detail).toBe(`${MIGRATION_NAMES.length} applied migration files unchanged`);
    });
  });
});
