/**
 * `npm run token -- --stack <Api stack> <email>`: an ID token from the user
 * pool a deployed dev stack created (no external identity provider), in one
 * command, for calling the deployed API.
 *
 * 1. The stack's outputs name the pool and its app client (UserPoolId,
 *    UserPoolClientId); a stack without them trusts an external identity
 *    provider, which issues the tokens.
 * 2. Only an app client that allows ADMIN_USER_PASSWORD_AUTH is served: the
 *    dev stage's. Production clients allow SRP only (sign-in with MFA, through
 *    an application): the command refuses them and changes nothing.
 * 3. The user is created if missing (no invitation e-mail) or updated, with a
 *    verified e-mail (the API refuses `email_verified: false`), and given a new
 *    random password, never shown: these users sign in through this command.
 * 4. ADMIN_USER_PASSWORD_AUTH returns the ID token (MFA is optional in dev; a
 *    user who turned it on gets a refusal instead).
 *
 * The e-mail must also be a seller's or buyer's in the database for the API to
 * answer more than 403/404. The caller needs cloudformation:DescribeStacks and
 * cognito-idp:DescribeUserPoolClient, AdminGetUser, AdminCreateUser,
 * AdminUpdateUserAttributes, AdminSetUserPassword, AdminInitiateAuth.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import {
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminInitiateAuthCommand,
  AdminSetUserPasswordCommand,
  AdminUpdateUserAttributesCommand,
  CognitoIdentityProviderClient,
  DescribeUserPoolClientCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { readStackOutputs, StackRefusedError } from '../shared/deployed-stack';

/** The stack outputs the token command reads (infra/api-stack.ts). */
export const USER_POOL_OUTPUTS = { userPool: 'UserPoolId', client: 'UserPoolClientId' } as const;
export const ADMIN_PASSWORD_FLOW = 'ALLOW_ADMIN_USER_PASSWORD_AUTH';

/** The command cannot serve this stack or user; nothing was changed. */
export class TokenRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenRefusedError';
  }
}

export interface CognitoTokenOptions {
  readonly stackName: string;
  readonly email: string;
  readonly cloudFormation?: CloudFormationClient;
  readonly cognito?: CognitoIdentityProviderClient;
}

export interface CognitoToken {
  readonly idToken: string;
  readonly userPoolId: string;
  /** Whether the user was created now (else updated). */
  readonly created: boolean;
}

/** A password for the pool's policy (12+ characters, lower, upper, digit, symbol): 32 random characters. */
export function randomPassword(): string {
  const pick = (alphabet: string) => alphabet[randomInt(alphabet.length)]!;
  const body = randomBytes(24).toString('base64url');
  return `${body}${pick('abcdefghijkmnopqrstuvwxyz')}${pick('ABCDEFGHJKLMNPQRSTUVWXYZ')}${pick('23456789')}${pick('!#%*+-=?^_')}`;
}

const nameOf = (error: unknown) => (error as { name?: string } | null)?.name;

export async function cognitoIdToken(options: CognitoTokenOptions): Promise<CognitoToken> {
  const cloudFormation = options.cloudFormation ?? new CloudFormationClient({});
  const cognito = options.cognito ?? new CognitoIdentityProviderClient({});
  const { stackName, email } = options;

  let outputs: Record<string, string>;
  try {
    outputs = await readStackOutputs(stackName, cloudFormation);
  } catch (error) {
    if (error instanceof StackRefusedError) throw new TokenRefusedError(error.message);
    throw error;
  }
  const userPoolId = outputs[USER_POOL_OUTPUTS.userPool];
  const clientId = outputs[USER_POOL_OUTPUTS.client];
  if (!userPoolId || !clientId) {
    throw new TokenRefusedError(
      `${stackName} has no Cognito user pool (no ${USER_POOL_OUTPUTS.userPool} / ${USER_POOL_OUTPUTS.client} outputs): ` +
        'it trusts an external identity provider (jwtIssuer); get the token from that provider.',
    );
  }

  const { UserPoolClient } = await cognito.send(new DescribeUserPoolClientCommand({ UserPoolId: userPoolId, ClientId: clientId }));
  if (!(UserPoolClient?.ExplicitAuthFlows ?? []).includes(ADMIN_PASSWORD_FLOW)) {
    throw new TokenRefusedError(
      `The app client of ${stackName} does not allow ${ADMIN_PASSWORD_FLOW}: only the dev stage's does. ` +
        "A production stage's users sign in through an application (SRP, with MFA); nothing was changed.",
    );
  }

  let created = false;
  try {
    const user = await cognito.send(new AdminGetUserCommand({ UserPoolId: userPoolId, Username: email }));
    const verified = user.UserAttributes?.find((a) => a.Name === 'email_verified')?.Value === 'true';
    if (!verified) {
      await cognito.send(
        new AdminUpdateUserAttributesCommand({ UserPoolId: userPoolId, Username: email, UserAttributes: [{ Name: 'email_verified', Value: 'true' }] }),
      );
    }
  } catch (error) {
    if (nameOf(error) !== 'UserNotFoundException') throw error;
    await cognito.send(
      new AdminCreateUserCommand({
        UserPoolId: userPoolId,
        Username: email,
        UserAttributes: [
          { Name: 'email', Value: email },
          { Name: 'email_verified', Value: 'true' },
        ],
        // No invitation e-mail: the password below is never shown to anyone.
        MessageAction: 'SUPPRESS',
      }),
    );
    created = true;
  }

  const password = randomPassword();
  await cognito.send(new AdminSetUserPasswordCommand({ UserPoolId: userPoolId, Username: email, Password: password, Permanent: true }));
  const auth = await cognito.send(
    new AdminInitiateAuthCommand({
      UserPoolId: userPoolId,
      ClientId: clientId,
      AuthFlow: 'ADMIN_USER_PASSWORD_AUTH',
      AuthParameters: { USERNAME: email, PASSWORD: password },
    }),
  );
  if (auth.ChallengeName) {
    throw new TokenRefusedError(
      `Cognito asks ${email} for ${auth.ChallengeName} (the user turned MFA on): this command cannot answer it; sign in through an application instead.`,
    );
  }
  const idToken = auth.AuthenticationResult?.IdToken;
  if (!idToken) throw new Error('Cognito returned no ID token');
  return { idToken, userPoolId, created };
}
