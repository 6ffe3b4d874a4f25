/**
 * The guide's commands against a deployed stack (`--stack`), run as an operator would, from the
 * repository, through the real AWS SDK clients: CloudFormation against the local stand-in
 * (test/infra/fake-aws.ts), the Data API against the local endpoint, which logs in as the stack's
 * read-only verification user, as the stack's secret would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_RESOURCE_ARN, LOCAL_SECRET_ARN, startDataApiEndpoint, type DataApiEndpoint } from '../helpers/data-api-endpoint';
import { createMigratedDatabase, type TestDatabase } from '../helpers/database';
import { runCommand } from '../helpers/cli';
import { startFakeAws, type FakeAws } from './fake-aws';

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

const env = () => ({
  ...process.env,
  DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/not-used-with-stack',
  AWS_ENDPOINT_URL_CLOUDFORMATION: aws.endpoint,
  AWS_ENDPOINT_URL_RDS_DATA: dataApi.url,
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_PROFILE: '',
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
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
