/**
 * `npm run token -- <email>`: a bearer token for a seeded user, accepted by `npm start`'s server.
 * `npm run token -- --stack <Api stack> <email>`: an ID token of a deployed dev stack's Cognito
 * user pool, for the deployed API (./cognito-token.ts).
 */
import { parseCommandLine, runCommandLine, UsageError } from '../shared/command-line';
import { localJwtSettings } from '../shared/config';

const USAGE = `usage: npm run token -- <email>
       npm run token -- --stack <Api stack> <email>

Prints a bearer token (12 h) for a seeded seller or buyer, e.g. bob@buyers.example or
olivia@northside.example, signed with the local key that \`npm start\`'s server accepts
(.local/jwt-signing-key.json, or LOCAL_JWT_KEY_FILE; created when missing).

With --stack (e.g. EnhancedMessaging-dev-Api): an ID token (1 h) of the Cognito user pool that
deployed dev stack created, for its API. The user is created, or updated, with a verified e-mail
and a new random password (never shown: such users sign in with this command). Only the dev
stage's app client allows it; a production stage is refused and nothing changes. Uses the AWS
credentials and region of the environment (AWS_PROFILE, AWS_REGION).

  --stack <name>   the API stack (EnhancedMessaging-<stage>-Api)
  -h, --help       this text`;

async function main(): Promise<number> {
  const { values, positionals } = parseCommandLine({
    options: { stack: { type: 'string' } },
    positionals: { min: 1, max: 1, names: ['email'] },
  });
  const email = positionals[0]!;
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new UsageError(`'${email}' is not an e-mail address.`);
  if (values.stack !== undefined) {
    if (!/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(values.stack)) throw new UsageError(`'${values.stack}' is not a stack name.`);
    const { cognitoIdToken } = await import('./cognito-token');
    const token = await cognitoIdToken({ stackName: values.stack, email });
    process.stderr.write(`${token.created ? 'Created' : 'Updated'} ${email} in ${token.userPoolId}; ID token (1 h) on stdout.\n`);
    console.log(token.idToken);
    return 0;
  }
  localJwtSettings();
  const { localTokens } = await import('./jwt');
  console.log(await (await localTokens()).sign(email));
  return 0;
}

runCommandLine(USAGE, main, 'token failed');
