/** `npm run token -- <email>`: a bearer token for a seeded user, accepted by `npm start`'s server. */
import { localTokens } from './jwt';

async function main(): Promise<void> {
  const email = process.argv[2];
  if (!email || !email.includes('@')) {
    console.error('usage: npm run token -- <email of a seeded seller or buyer>   (e.g. bob@buyers.example)');
    process.exit(2);
  }
  console.log(await (await localTokens()).sign(email));
}

void main();
