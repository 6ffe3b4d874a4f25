/** `npm run token -- <email>`: a bearer token for a seeded user, accepted by `npm start`'s server. */
import { parseCommandLine, runCommandLine, UsageError } from '../shared/command-line';
import { localJwtSettings } from '../shared/config';

const USAGE = `usage: npm run token -- <email>

Prints a bearer token (12 h) for a seeded seller or buyer, e.g. bob@buyers.example or
olivia@northside.example, signed with the local key that \`npm start\`'s server accepts
(.local/jwt-signing-key.json, or LOCAL_JWT_KEY_FILE; created when missing).

  -h, --help   this text`;

async function main(): Promise<number> {
  const { positionals } = parseCommandLine({ options: {}, positionals: { min: 1, max: 1, names: ['email'] } });
  const email = positionals[0]!;
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new UsageError(`'${email}' is not an e-mail address.`);
  localJwtSettings();
  const { localTokens } = await import('./jwt');
  console.log(await (await localTokens()).sign(email));
  return 0;
}

runCommandLine(USAGE, main, 'token failed');
