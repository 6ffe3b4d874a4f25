/**
 * The login users of the deployed functions, made on deploy by the migration custom resource (and
 * locally by `npm start` and the tests): one user per function, member of the role migration 7
 * grants what that function may do (migrations/lib/database-roles.ts), with the password of its
 * Secrets Manager secret. Idempotent: an existing user gets the secret's password, LOGIN and its
 * membership again, so a deploy also repairs a user someone changed by hand.
 *
 * The password never travels in clear: the statement carries its SCRAM-SHA-256 verifier, computed
 * here, so neither a statement log nor pg_stat_activity shows it.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import pg from 'pg';
import { readSqlFile } from '../../migrations/lib/sql-files';
import { EVENT_RELAY_ROLE, READER_ROLE, ROUTE_CALLER_ROLE } from '../../migrations/lib/database-roles';

export type FunctionRole = typeof ROUTE_CALLER_ROLE | typeof READER_ROLE | typeof EVENT_RELAY_ROLE;
const FUNCTION_ROLES: readonly string[] = [ROUTE_CALLER_ROLE, READER_ROLE, EVENT_RELAY_ROLE];

export interface LoginUser {
  readonly username: string;
  readonly password: string;
  readonly memberOf: FunctionRole;
}

/** The login users the stack creates secrets for (infra/constructs/messaging-database.ts); `npm start` and the tests use the same names. */
export const API_LOGIN_USER = 'ems_api';
export const VERIFIER_LOGIN_USER = 'ems_verifier';
export const RELAY_LOGIN_USER = 'ems_relay';

/** Users named like this only: the stack names them; anything else is a misconfiguration, refused before any change. */
const USERNAME = /^[a-z_][a-z0-9_]{0,62}$/;
const SCRAM_ITERATIONS = 4096;

/** PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC 5802/7677), as `ALTER ROLE ... PASSWORD` accepts it. */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16)): string {
  const salted = pbkdf2Sync(password, salt, SCRAM_ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

function checkUsers(users: readonly LoginUser[]): void {
  const problems: string[] = [];
  for (const user of users) {
    if (!USERNAME.test(user.username)) problems.push(`${JSON.stringify(user.username)} is not a plain lower-case role name`);
    if (FUNCTION_ROLES.includes(user.username)) problems.push(`${user.username} is a group role, not a login user`);
    if (user.password.length < 16) problems.push(`the password of ${user.username} is shorter than 16 characters`);
    // PostgreSQL prepares a SCRAM password with SASLprep; printable ASCII (what the stack's secrets hold) needs none.
    if (!/^[\x21-\x7e]*$/.test(user.password)) problems.push(`the password of ${user.username} holds characters other than printable ASCII`);
    if (!FUNCTION_ROLES.includes(user.memberOf)) problems.push(`${user.username}: unknown role ${String(user.memberOf)}`);
  }
  if (new Set(users.map((u) => u.username)).size !== users.length) problems.push('two users share a name');
  if (problems.length > 0) throw new Error(`Refusing to provision the login users: ${problems.join('; ')}`);
}

const CONCURRENT_CATALOG_CHANGE = new Set(['23505', '42710', 'XX000']);

/** Another database's deploy or test may provision the same cluster-wide user at the same moment: try again. */
async function retryingCatalogRaces<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      const code = (error as { code?: string }).code;
      const race = code !== undefined && CONCURRENT_CATALOG_CHANGE.has(code) && (code !== 'XX000' || /concurrently/.test((error as Error).message));
      if (!race || attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
    }
  }
}

/**
 * Makes each user exist with LOGIN, its password and its membership, nothing more; the reader's user
 * also starts every transaction read-only. Refuses a user that is the connected (master) user, a
 * superuser, or may create roles or databases: giving such a role a function's password would hand
 * the function those rights.
 */
export async function provisionLoginUsers(connectionString: string, users: readonly LoginUser[]): Promise<void> {
  checkUsers(users);
  const client = new pg.Client({ connectionString, application_name: 'ems-login-users' });
  await client.connect();
  try {
    await client.query(readSqlFile('roles/ems_group_roles.sql'));
    for (const user of users) {
      await retryingCatalogRaces(async () => {
        const [existing] = (
          await client.query<{ privileged: boolean; is_me: boolean }>(
            `SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls AS privileged, rolname = current_user AS is_me
               FROM pg_roles WHERE rolname = $1`,
            [user.username],
          )
        ).rows;
        if (existing?.is_me || existing?.privileged) {
          throw new Error(`Refusing to provision ${user.username}: it is the connected user or a privileged role, not a function's login user`);
        }
        const name = client.escapeIdentifier(user.username);
        const password = client.escapeLiteral(scramVerifier(user.password));
        await client.query(existing ? `ALTER ROLE ${name} WITH LOGIN PASSWORD ${password}` : `CREATE ROLE ${name} WITH LOGIN PASSWORD ${password}`);
        await client.query(`GRANT ${client.escapeIdentifier(user.memberOf)} TO ${name}`);
        await client.query(`ALTER ROLE ${name} SET default_transaction_read_only = ${user.memberOf === READER_ROLE ? 'on' : 'off'}`);
      });
    }
  } finally {
    await client.end();
  }
}

/** The same server and database as `connectionString`, logged in as `user`. */
export function connectionStringAs(connectionString: string, user: Pick<LoginUser, 'username' | 'password'>): string {
  const url = new URL(connectionString);
  url.username = encodeURIComponent(user.username);
  url.password = encodeURIComponent(user.password);
  return url.toString();
}
