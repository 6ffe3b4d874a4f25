/**
 * The guide's commands against a deployed stack (`--stack`), run as an operator would, from the
 * repository, through the real AWS SDK clients: CloudFormation against the local stand-in
 * (test/infra/fake-aws.ts), the Data API against the local endpoint, which logs in as the stack's
 * read-only verification user, as the stack's secret would.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigrationHandlers } from '../../functions/handlers/migrate';
import { rollbackOnStack, runOnStack } from '../../functions/migration-runner/remote';
import * as m from '../helpers/marketplace';
import { MIGRATION_NAMES } from '../../migrations/manifest';
import { createBaseSchemaOnly } from '../helpers/migrations';
import { LOCAL_RESOURCE_ARN, LOCAL_SECRET_ARN, startDataApiEndpoint, type DataApiEndpoint } from '../helpers/data-api-endpoint';
import { createMigratedDatabase, createTestDatabase, type TestDatabase } from '../helpers/database';
import { runCommand } from '../helpers/cli';
import { awsCommandEnvironment, startFakeAws, type FakeAws } from './fake-aws';

const DATA = 'EnhancedMessaging-prod-Data';
const API = 'EnhancedMessaging-prod-Api';

let t: TestDatabase;
let aws: FakeAws;
let dataApi: DataApiEndpoint;

beforeAll(async () => {
  t = await createMigratedDatabase();
  aws = await startFakeAws();
  dataApi = await startDataApiEndpoint({ connectionString: t.verifierUrl });
  aws.stacks[DATA] = { ClusterArn: LOCAL_RESOURCE_ARN, DatabaseName: t.name, VerifierUserSecretArn: LOCAL_SECRET_ARN, DatabaseSecretArn: 'arn:aws:secretsmanager:eu-west-1:1:secret:master' };
  aws.stacks[API] = { ApiUrl: 'https://api.example' };
});
afterAll(async () => {
  await dataApi?.close();
  await aws?.close();
  await t?.drop();
});

const env = () =>
  awsCommandEnvironment({
    DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/not-used-with-stack',
    AWS_ENDPOINT_URL_CLOUDFORMATION: aws.endpoint,
    AWS_ENDPOINT_URL_RDS_DATA: dataApi.url,
  });
const verify = (args: string) => runCommand(`node --import tsx functions/verification/cli.ts ${args}`, env());

describe('npm run verify -- --stack', () => {
  it("verifies the deployed database through the Data API as its read-only user, reading only", async () => {
    const before = dataApi.requests.length;
    const result = await verify(`--stack ${DATA}`);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Enhanced messaging verification of ${DATA}`);
    expect(result.stdout).toContain('database roles');
    expect(result.stdout).toContain('Verification passed.');
    const operations = new Set(dataApi.requests.slice(before).map((r) => r.operation));
    expect([...operations]).toEqual(['ExecuteStatement']);
    expect(aws.calls).toContain('CloudFormation.DescribeStacks');
  });

  it('exits 1 naming the check when the deployed grants drifted', async () => {
    await t.db.query(`GRANT UPDATE ON sellers TO ems_route_caller`);
    try {
      const result = await verify(`--stack ${DATA} --json`);
      expect(result.code).toBe(1);
      const report = JSON.parse(result.stdout) as { checks: { name: string; ok: boolean; detail: string }[] };
      expect(report.checks.find((c) => c.name === 'database roles')).toMatchObject({ ok: false, detail: expect.stringContaining('ems_route_caller holds UPDATE on sellers') });
    } finally {
      await t.db.query(`REVOKE UPDATE ON sellers FROM ems_route_caller`);
    }
  });

  it('exits 3 with one line for a stack that does not exist or is not a Data stack, 2 for a malformed name; nothing reaches the database', async () => {
    const before = dataApi.requests.length;
    const missing = await verify('--stack EnhancedMessaging-nope-Data');
    expect(missing.code).toBe(3);
    // Ours is one line (the SDK may warn about the Node.js version on its own lines).
    expect(missing.stderr.split('\n').filter((l) => l.startsWith('No stack named EnhancedMessaging-nope-Data'))).toHaveLength(1);
    const api = await verify(`--stack ${API}`);
    expect(api.code).toBe(3);
    expect(api.stderr.split('\n')).toContain(`${API} has no ClusterArn, DatabaseName, VerifierUserSecretArn outputs: give the Data stack (EnhancedMessaging-<stage>-Data) of this version.`);
    const malformed = await verify('--stack "not a stack"');
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain("'not a stack' is not a stack name.");
    expect(dataApi.requests.length).toBe(before);
  });
});

describe('the guide commands in the migration Lambda (npm run migrate:messaging -- --stack)', () => {
  const STAGING = 'EnhancedMessaging-staging-Data';
  const FUNCTION = 'EnhancedMessaging-staging-Data-MigrationsHandler-AbC123';
  const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
  let fresh: TestDatabase;
  const lines: string[] = [];
  const run = (action: Parameters<typeof runOnStack>[1], name?: string, slices?: number) =>
    runOnStack(STAGING, action, name, {
      cloudFormation: new CloudFormationClient({ endpoint: aws.endpoint, region: 'eu-west-1', credentials }),
      lambda: new LambdaClient({ endpoint: aws.endpoint, region: 'eu-west-1', credentials }),
      log: (line) => lines.push(line),
      ...(slices ? { maxSlices: slices } : {}),
    });
  const applied = async () => (await fresh.db.query<{ name: string }>('SELECT name FROM knex_migrations ORDER BY id')).map((r) => r.name);

  beforeAll(async () => {
    fresh = await createTestDatabase();
    await createBaseSchemaOnly(fresh.url);
    aws.stacks[STAGING] = { ClusterArn: LOCAL_RESOURCE_ARN, DatabaseName: fresh.name, MigrationFunctionName: FUNCTION, DatabaseSecretArn: LOCAL_SECRET_ARN };
    // The stack's migration Lambda, with 1-second slices, so `migrate` needs more than one invocation.
    const { handler } = createMigrationHandlers({ resolveConnectionString: async () => fresh.url, limits: { sliceMs: 1_000 } });
    aws.functions[FUNCTION] = (payload) => handler(payload as never);
  });
  afterAll(async () => {
    await fresh?.drop();
  });

  it('--dry-run: what migrate would do, said by the function, changing nothing; --json prints the plan alone', async () => {
    const before = await applied();
    lines.length = 0;
    expect(await run('dry-run')).toBe(0);
    const text = lines.join('\n');
    expect(text).toContain(`Would apply ${MIGRATION_NAMES.length - 1} migrations, in this order:`);
    expect(text).toContain('✅ The migrations would run');
    const json = await runCommand(`node --import tsx functions/migration-runner/cli.ts --stack ${STAGING} --dry-run --json`, {
      ...env(),
      AWS_ENDPOINT_URL_LAMBDA: aws.endpoint,
    });
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ dryRun: true, ok: true, alreadyApplied: [MIGRATION_NAMES[0]] });
    expect(await applied()).toEqual(before);
  });

  it('status lists what is applied and pending; migrate applies everything in slices, as the deploy does, and verifies', async () => {
    lines.length = 0;
    expect(await run('status')).toBe(0);
    expect(lines).toContain(`Pending migrations (${MIGRATION_NAMES.length - 1}):`);
    lines.length = 0;
    expect(await run('migrate')).toBe(0);
    expect(lines.at(-1)).toBe('Migrations applied and verified.');
    expect(lines).toContainEqual(expect.stringMatching(/✅ routing invariant/));
    expect(await applied()).toEqual([...MIGRATION_NAMES]);
  });

  it('down and up, by name or the last one, as npx knex migrate:down / migrate:up do', async () => {
    const last = MIGRATION_NAMES.at(-1)!;
    lines.length = 0;
    expect(await run('down')).toBe(0);
    expect(lines).toContain(`Undone: ${last}`);
    expect(await applied()).not.toContain(last);
    expect(await run('up', last)).toBe(0);
    expect(lines).toContain(`Applied: ${last}`);
    expect(await applied()).toEqual([...MIGRATION_NAMES]);
  });

  it('npm run migrate:messaging -- --stack: status from the command line; a bad action, option or name is exit 2 and a missing stack exit 3, invoking nothing', async () => {
    const cli = (args: string) =>
      runCommand(`node --import tsx functions/migration-runner/cli.ts ${args}`, { ...env(), AWS_ENDPOINT_URL_LAMBDA: aws.endpoint });
    const status = await cli(`--stack ${STAGING} list`);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`${STAGING}: status through ${FUNCTION}`);
    expect(status.stdout).toContain(`Applied migrations (${MIGRATION_NAMES.length}):`);
    expect(status.stdout).toContain('Pending migrations: none');
    const invocations = aws.calls.filter((c) => c.startsWith('Lambda.')).length;
    for (const [args, message] of [
      [`--stack ${STAGING} frobnicate`, "'frobnicate' is not an action"],
      [`--stack ${STAGING} status ${MIGRATION_NAMES[1]}`, 'A migration name goes with up or down only'],
      [`--stack ${STAGING} up --json`, '--json does not go with --stack'],
      [`--stack ${STAGING} --dry-run migrate`, '--dry-run takes no action or migration name'],
      [`--stack ${STAGING} --rollback down`, '--rollback takes no action'],
      [`--stack ${STAGING} --rollback`, 'pass --yes when running without a terminal'],
      [`--stack ${STAGING} toString`, "'toString' is not an action"],
      [`status`, "Unexpected argument 'status' (actions go with --stack)"],
    ] as const) {
      const result = await cli(args);
      expect(result.code, args).toBe(2);
      expect(result.stderr, args).toContain(message);
    }
    const missing = await cli('--stack EnhancedMessaging-nope-Data status');
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('No stack named EnhancedMessaging-nope-Data');
    expect(aws.calls.filter((c) => c.startsWith('Lambda.')).length).toBe(invocations);
  });

  it('a rollback sent without its confirmation is refused by the function, and changes nothing', async () => {
    await expect(aws.functions[FUNCTION]!({ operatorAction: 'rollback' })).rejects.toThrow(/A rollback drops the messaging history: invoke it with confirm/);
    expect(await applied()).toEqual([...MIGRATION_NAMES]);
  });

  it("refuses an unknown migration name in the function, naming the known ones, and changes nothing", async () => {
    await expect(run('down', '20990101000000_nope.js')).rejects.toThrow(/The migration function failed: Unknown migration "20990101000000_nope.js": expected one of/);
    expect(await applied()).toEqual([...MIGRATION_NAMES]);
  });

  it('rollback exports the history through the Data API (one snapshot, as the master user), then the function rolls every messaging migration back', async () => {
    const company = await m.company(fresh.db);
    await m.seller(fresh.db, company, 'owner');
    const member = await m.seller(fresh.db, company, 'member');
    await fresh.db.query(`UPDATE sellers SET member_status = 'removed' WHERE id = $1`, [member]);
    const audit = await fresh.db.query<{ id: string; action: string }>('SELECT id::text AS id, action FROM company_member_audit ORDER BY id');
    expect(audit.length).toBeGreaterThan(0);
    const master = await startDataApiEndpoint({ connectionString: fresh.url });
    const directory = await mkdtemp(path.join(os.tmpdir(), 'ems-remote-export-'));
    try {
      lines.length = 0;
      const result = await rollbackOnStack(STAGING, directory, {
        cloudFormation: new CloudFormationClient({ endpoint: aws.endpoint, region: 'eu-west-1', credentials }),
        lambda: new LambdaClient({ endpoint: aws.endpoint, region: 'eu-west-1', credentials }),
        dataApi: master.client(),
        log: (line) => lines.push(line),
      });
      expect(result.rolledBack).toEqual([...MIGRATION_NAMES.slice(1)].reverse());
      expect(await applied()).toEqual([MIGRATION_NAMES[0]]);
      const exported = (await readFile(path.join(directory, 'company_member_audit.ndjson'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { id: number; action: string });
      expect(exported.map(({ id, action }) => ({ id: String(id), action }))).toEqual(audit);
      expect(result.export.rows.company_member_audit).toBe(audit.length);
      // The export ran in one transaction of the Data API.
      const operations = master.requests.map((r) => r.operation);
      expect(operations.filter((o) => o === 'BeginTransaction')).toHaveLength(1);
      expect(operations.at(-1)).toBe('CommitTransaction');
    } finally {
      await master.close();
      await rm(directory, { recursive: true, force: true });
    }
  });
});
