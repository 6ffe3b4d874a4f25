/**
 * A token in one command for a deployed dev stack's Cognito user pool
 * (`npm run token -- --stack <Api stack> <email>`, functions/local/cognito-token.ts):
 * what the stacks allow (dev: optional MFA, an app client that allows
 * ADMIN_USER_PASSWORD_AUTH; production: neither), then the command against a
 * local stand-in of CloudFormation and Cognito spoken to by the real SDK
 * clients (test/infra/fake-aws.ts), as a function and as the CLI.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD_FLOW, cognitoIdToken, randomPassword, TokenRefusedError, USER_POOL_OUTPUTS } from '../../functions/local/cognito-token';
import { runCommand } from '../helpers/cli';
import { awsCommandEnvironment, startFakeAws, type FakeAws } from './fake-aws';
import { acknowledgements, onlyResource, synthesize } from './synth';

describe('what the stacks allow', () => {
  it('dev: optional MFA and an app client that allows ADMIN_USER_PASSWORD_AUTH; production: MFA required, SRP only', () => {
    const dev = synthesize({}, { nag: false });
    // With cdk-nag: a production pool needs no acknowledgement of optional MFA.
    const prod = synthesize({ stage: 'prod' });
    const [, devPool] = onlyResource(dev.apiTemplate, 'AWS::Cognito::UserPool');
    const [, devClient] = onlyResource(dev.apiTemplate, 'AWS::Cognito::UserPoolClient');
    expect(devPool.Properties!.MfaConfiguration).toBe('OPTIONAL');
    expect(devClient.Properties!.ExplicitAuthFlows).toContain(ADMIN_PASSWORD_FLOW);
    const [, prodPool] = onlyResource(prod.apiTemplate, 'AWS::Cognito::UserPool');
    const [, prodClient] = onlyResource(prod.apiTemplate, 'AWS::Cognito::UserPoolClient');
    expect(prodPool.Properties!.MfaConfiguration).toBe('ON');
    expect(prodClient.Properties!.ExplicitAuthFlows).toEqual(['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH']);
    expect(acknowledgements(prod.app).map((a) => a.id)).not.toContain('AwsSolutions-COG2');
    expect(acknowledgements(dev.app).find((a) => a.id === 'AwsSolutions-COG2')?.path).toBe('EnhancedMessaging-dev-Api/UserPool');
    // The outputs the command reads.
    for (const app of [dev, prod]) {
      expect(Object.keys(app.apiTemplate.toJSON().Outputs as object)).toEqual(expect.arrayContaining(Object.values(USER_POOL_OUTPUTS)));
    }
  });
});

let aws: FakeAws;
const DEV = 'EnhancedMessaging-dev-Api';
const PROD = 'EnhancedMessaging-prod-Api';
const EXTERNAL = 'EnhancedMessaging-ext-Api';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

beforeAll(async () => {
  aws = await startFakeAws();
});
afterAll(async () => {
  await aws?.close();
});
beforeEach(() => {
  aws.calls.length = 0;
  for (const key of Object.keys(aws.stacks)) delete aws.stacks[key];
  for (const key of Object.keys(aws.pools)) delete aws.pools[key];
  aws.stacks[DEV] = { ApiUrl: 'https://x.execute-api.eu-west-1.amazonaws.com/', UserPoolId: 'eu-west-1_dev', UserPoolClientId: 'devclient' };
  aws.stacks[PROD] = { UserPoolId: 'eu-west-1_prod', UserPoolClientId: 'prodclient' };
  aws.stacks[EXTERNAL] = { ApiUrl: 'https://y.execute-api.eu-west-1.amazonaws.com/', JwtIssuer: 'https://login.example.com/' };
  aws.pools['eu-west-1_dev'] = { clients: { devclient: [ADMIN_PASSWORD_FLOW, 'ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'] }, users: {} };
  aws.pools['eu-west-1_prod'] = { clients: { prodclient: ['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'] }, users: {} };
});

const clients = () => ({
  cloudFormation: new CloudFormationClient({ endpoint: aws.endpoint, region: 'eu-west-1', credentials }),
  cognito: new CognitoIdentityProviderClient({ endpoint: aws.endpoint, region: 'eu-west-1', credentials }),
});
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, string>;

describe('cognitoIdToken', () => {
  it('creates a missing user with a verified e-mail, sets a password and returns an ID token for the app client', async () => {
    const token = await cognitoIdToken({ stackName: DEV, email: 'olivia@northside.example', ...clients() });
    expect(token).toMatchObject({ created: true, userPoolId: 'eu-west-1_dev' });
    expect(claimsOf(token.idToken)).toMatchObject({ email: 'olivia@northside.example', email_verified: 'true', aud: 'devclient', token_use: 'id' });
    const user = aws.pools['eu-west-1_dev']!.users['olivia@northside.example']!;
    expect(user.attributes).toEqual({ email: 'olivia@northside.example', email_verified: 'true' });
    expect(user.password).toMatch(/^.{32,}$/);
    expect(aws.calls).toEqual([
      'CloudFormation.DescribeStacks',
      'Cognito.DescribeUserPoolClient',
      'Cognito.AdminGetUser',
      'Cognito.AdminCreateUser',
      'Cognito.AdminSetUserPassword',
      'Cognito.AdminInitiateAuth',
    ]);
  });

  it('updates an existing user: verifies the e-mail if it was not, and a new password each time', async () => {
    aws.pools['eu-west-1_dev']!.users['bob@buyers.example'] = { attributes: { email: 'bob@buyers.example', email_verified: 'false' }, password: 'old' };
    const first = await cognitoIdToken({ stackName: DEV, email: 'bob@buyers.example', ...clients() });
    expect(first.created).toBe(false);
    expect(claimsOf(first.idToken).email_verified).toBe('true');
    const password = aws.pools['eu-west-1_dev']!.users['bob@buyers.example']!.password;
    expect(password).not.toBe('old');
    aws.calls.length = 0;
    await cognitoIdToken({ stackName: DEV, email: 'bob@buyers.example', ...clients() });
    expect(aws.calls).not.toContain('Cognito.AdminUpdateUserAttributes');
    expect(aws.pools['eu-west-1_dev']!.users['bob@buyers.example']!.password).not.toBe(password);
  });

  it.each([
    [PROD, /does not allow ALLOW_ADMIN_USER_PASSWORD_AUTH: only the dev stage's/],
    [EXTERNAL, /has no Cognito user pool.*external identity provider/],
    ['EnhancedMessaging-nope-Api', /No stack named EnhancedMessaging-nope-Api/],
  ])('refuses %s and changes nothing', async (stackName, message) => {
    const refused = await cognitoIdToken({ stackName, email: 'olivia@northside.example', ...clients() }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TokenRefusedError);
    expect((refused as Error).message).toMatch(message);
    expect(aws.calls.filter((c) => /Admin(Create|Update|Set)/.test(c))).toEqual([]);
    expect(aws.pools['eu-west-1_prod']!.users).toEqual({});
  });

  it('refuses a user who turned MFA on (the command cannot answer the challenge)', async () => {
    aws.pools['eu-west-1_dev']!.users['mia@northside.example'] = { attributes: { email: 'mia@northside.example', email_verified: 'true' }, mfa: true };
    await expect(cognitoIdToken({ stackName: DEV, email: 'mia@northside.example', ...clients() })).rejects.toThrow(/SOFTWARE_TOKEN_MFA.*MFA on/);
  });

  it('makes passwords the pool accepts (12+ characters with lower, upper, digit and symbol)', () => {
    for (let i = 0; i < 50; i += 1) {
      const password = randomPassword();
      expect(password.length).toBeGreaterThanOrEqual(12);
      for (const kind of [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/]) expect(password).toMatch(kind);
    }
  });
});

describe('npm run token -- --stack', () => {
  const env = () => awsCommandEnvironment({ AWS_ENDPOINT_URL: aws.endpoint });
  const token = (args: string) => runCommand(`node --import tsx functions/local/token.ts ${args}`, env());

  it('prints the ID token alone on stdout and what it did on stderr', async () => {
    const result = await token(`--stack ${DEV} olivia@northside.example`);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('.')).toHaveLength(3);
    expect(claimsOf(result.stdout.trim())).toMatchObject({ email: 'olivia@northside.example', email_verified: 'true' });
    expect(result.stderr).toContain('Created olivia@northside.example in eu-west-1_dev');
  });

  it('exits 1 with the reason for a production stack, 2 for a malformed stack name', async () => {
    const prod = await token(`--stack ${PROD} olivia@northside.example`);
    expect(prod.code).toBe(1);
    expect(prod.stderr).toMatch(/token failed: The app client of EnhancedMessaging-prod-Api does not allow/);
    expect(prod.stdout).toBe('');
    const usage = await token(`--stack 'no such/stack' olivia@northside.example`);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("is not a stack name");
  });
});
