/**
 * Every environment variable the project reads, validated in this one
 * module: a missing or malformed variable fails with an error naming it and the
 * form it expects, before anything else happens.
 *
 * - `config()` / `loadConfig()`: the Lambda handlers' settings, read once when a
 *   function loads, so a bad variable fails the cold start.
 * - `databaseSettings()`, `migrationSettings()`, `localServerSettings()`,
 *   `localJwtSettings()`, `migrationLambdaSettings()`, `migrationChecksumsFromEnvironment()`:
 *   the command lines, the migrations and the migration Lambda, each group read
 *   where it is used (an unset or empty variable takes its default).
 *
 * Plain checks, no schema library: every message is this module's own, in English, naming the
 * variable and the form it expects, so a check only has to say whether a value is of its form
 * (and give it trimmed or as a number). Every API handler validates its variables on a cold start,
 * before it answers anything: building zod schemas for them cost about 1.5 ms of each cold load
 * (bench step g), and the migration Lambda, which has no other use for zod, does without it.
 * The group tables are built on first use.
 */

/** A variable that is missing or malformed; `variables` names them. */
export class ConfigurationError extends Error {
  constructor(
    readonly variables: readonly string[],
    message: string,
  ) {
    super(`Invalid configuration: ${message}`);
    this.name = 'ConfigurationError';
  }
}

type Environment = Readonly<Record<string, string | undefined>>;

/** Reads a set, non-blank value: what it stands for, or `INVALID` when it is not of the form. */
type Read<T> = (raw: string) => T | typeof INVALID;
const INVALID: unique symbol = Symbol('invalid');

interface Variable<T> {
  readonly read: Read<T>;
  /** The form it must have, for the error message. */
  readonly expected: string;
  /** Its value is never repeated in a message (it may hold a password). */
  readonly secret?: boolean;
}

const variable = <T>(read: Read<T>, expected: string, secret = false): Variable<T> => ({ read, expected, secret });

/** As given, when `ok` says it is of the form. */
const exact =
  (ok: (value: string) => boolean): Read<string> =>
  (raw) =>
    ok(raw) ? raw : INVALID;
/** Trimmed first (the value read is the trimmed one), then checked. */
const trimmed =
  (ok: (value: string) => boolean): Read<string> =>
  (raw) => {
    const value = raw.trim();
    return ok(value) ? value : INVALID;
  };
const nonEmpty = (value: string) => value.length >= 1;
const arn = (value: string) => value.startsWith('arn:');
const matches = (pattern: RegExp) => (value: string) => pattern.test(value);
const oneOf =
  <const T extends string>(values: readonly T[]): Read<T> =>
  (raw) =>
    (values as readonly string[]).includes(raw) ? (raw as T) : INVALID;
const wholeNumber =
  (min: number, max: number): Read<number> =>
  (raw) => {
    const value = raw.trim();
    if (!/^\d+$/.test(value)) return INVALID;
    const number = Number(value);
    return Number.isFinite(number) && number >= min && number <= max ? number : INVALID;
  };

/** A PostgreSQL duration (`lock_timeout`, `statement_timeout`): a positive number with an optional unit. */
const POSTGRES_DURATION = /^(?=.*[1-9])\d+(\.\d+)?\s*(us|ms|s|min|h|d)?$/;
const duration = () => trimmed(matches(POSTGRES_DURATION));
const onOff = () => oneOf(['0', '1']);
const postgresUrl = () =>
  trimmed((value) => {
    try {
      return ['postgres:', 'postgresql:'].includes(new URL(value).protocol);
    } catch {
      return false;
    }
  });

/** Reads the variables of one group; unset or blank ones are left out (they take their defaults). */
function readGroup<V extends Record<string, Variable<unknown>>>(
  variables: V,
  environment: Environment,
): { [K in keyof V]: V[K] extends Variable<infer T> ? T | undefined : never } {
  const result: Record<string, unknown> = {};
  const problems: string[] = [];
  const names: string[] = [];
  for (const [name, spec] of Object.entries(variables)) {
    const raw = environment[name];
    if (raw === undefined || raw.trim() === '') continue;
    const value = spec.read(raw);
    if (value !== INVALID) {
      result[name] = value;
    } else {
      names.push(name);
      problems.push(`${name}${spec.secret ? ' (value not shown)' : `=${JSON.stringify(raw)}`}: expected ${spec.expected}`);
    }
  }
  if (problems.length > 0) throw new ConfigurationError(names, problems.join('; '));
  return result as never;
}

/**
 * Runs each group's reader and reports every malformed variable of them all at once
 * (a command checks what it will read before it does anything).
 */
export function checkEnvironment(...readers: (() => unknown)[]): void {
  const errors: ConfigurationError[] = [];
  for (const read of readers) {
    try {
      read();
    } catch (error) {
      if (!(error instanceof ConfigurationError)) throw error;
      errors.push(error);
    }
  }
  if (errors.length === 1) throw errors[0]!;
  if (errors.length > 1) {
    const prefix = /^Invalid configuration: /;
    throw new ConfigurationError(
      errors.flatMap((e) => e.variables),
      errors.map((e) => e.message.replace(prefix, '')).join('; '),
    );
  }
}

/** The marketplace's entity id types the messaging system takes (migrations/sql/ids/ems_id_domains.sql). */
export const ID_TYPES = ['uuid', 'bigint', 'integer'] as const;
export type IdType = (typeof ID_TYPES)[number];
/**
 * EMS_ID_TYPE: the type of the marketplace's ids. The API validates ids in this form; on an empty
 * database the baseline creates the demo marketplace's tables with it. (An existing marketplace's
 * types are read off its tables by migration 1; the verification says when the two differ.)
 */
const idTypeVariable = () => variable(oneOf(ID_TYPES), ID_TYPES.join(', '));
const idTypeVariables = /* @__PURE__ */ lazy(() => ({ EMS_ID_TYPE: idTypeVariable() }));

/**
 * EMS_ID_TYPE as given, undefined when unset: the verification compares the database's ids with it
 * only when it is set (an existing marketplace run without it is checked against its own tables).
 */
export function idTypeSetting(environment: Environment = process.env): IdType | undefined {
  return readGroup(idTypeVariables(), environment).EMS_ID_TYPE;
}

function lazy<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= build());
}

// ---------------------------------------------------------------------------
// The command lines and the local server.

const databaseVariables = /* @__PURE__ */ lazy(() => ({
  /** Every command's database; unset: the embedded development cluster. */
  DATABASE_URL: variable(postgresUrl(), 'a postgres:// or postgresql:// URL', true),
  /** Port of the embedded development cluster. */
  LOCAL_PG_PORT: variable(wholeNumber(1, 65_535), 'a TCP port from 1 to 65535'),
}));

export interface DatabaseSettings {
  /** DATABASE_URL, trimmed; undefined means the embedded development cluster. */
  readonly databaseUrl: string | undefined;
  readonly localPgPort: number;
}

export function databaseSettings(environment: Environment = process.env): DatabaseSettings {
  const v = readGroup(databaseVariables(), environment);
  return { databaseUrl: v.DATABASE_URL, localPgPort: v.LOCAL_PG_PORT ?? 54_329 };
}

const localServerVariables = /* @__PURE__ */ lazy(() => ({
  /** `npm start`'s HTTP port (0: any free port). */
  PORT: variable(wholeNumber(0, 65_535), 'a TCP port from 0 to 65535 (0: any free port)'),
  HOST: variable(trimmed(matches(/^[^\s/]+$/)), 'a host name or IP address to listen on, e.g. 127.0.0.1'),
  /** `npm start` without the demo data. */
  EMS_SKIP_DEMO_DATA: variable(onOff(), '1 (skip the demo data) or 0'),
}));

export interface LocalServerSettings {
  readonly port: number;
  readonly host: string;
  readonly skipDemoData: boolean;
}

export function localServerSettings(environment: Environment = process.env): LocalServerSettings {
  const v = readGroup(localServerVariables(), environment);
  return { port: v.PORT ?? 3000, host: v.HOST ?? '127.0.0.1', skipDemoData: v.EMS_SKIP_DEMO_DATA === '1' };
}

const eventRelayVariables = /* @__PURE__ */ lazy(() => ({
  /** The EventBridge bus the relay publishes to (the stack's). */
  EVENT_BUS_NAME: variable(trimmed(matches(/^[A-Za-z0-9._\-/]{1,256}$/)), 'an EventBridge bus name'),
  /** Tries before an event is dead-lettered. */
  EVENT_MAX_ATTEMPTS: variable(wholeNumber(1, 100), 'a whole number of tries from 1 to 100'),
  /** How long published events stay in the outbox (a PostgreSQL interval in days). */
  EVENT_RETENTION_DAYS: variable(wholeNumber(1, 3650), 'a whole number of days from 1 to 3650'),
}));

export interface EventRelaySettings {
  readonly busName: string;
  readonly maxAttempts: number;
  readonly retention: string;
}

/** The event relay's settings (the relay Lambda; `npm start` prints instead of publishing). */
export function eventRelaySettings(environment: Environment = process.env): EventRelaySettings {
  const v = readGroup(eventRelayVariables(), environment);
  if (!v.EVENT_BUS_NAME) throw new ConfigurationError(['EVENT_BUS_NAME'], 'EVENT_BUS_NAME is not set: expected the name of the EventBridge bus');
  return { busName: v.EVENT_BUS_NAME, maxAttempts: v.EVENT_MAX_ATTEMPTS ?? 5, retention: `${v.EVENT_RETENTION_DAYS ?? 7} days` };
}

const localJwtVariables = /* @__PURE__ */ lazy(() => ({
  LOCAL_JWT_ISSUER: variable(trimmed(nonEmpty), 'the issuer (iss) of local tokens'),
  LOCAL_JWT_AUDIENCE: variable(trimmed(nonEmpty), 'the audience (aud) of local tokens'),
  LOCAL_JWT_KEY_FILE: variable(exact(nonEmpty), 'the path of the local signing key file'),
}));

export interface LocalJwtSettings {
  readonly issuer: string;
  readonly audience: string;
  /** undefined: `.local/jwt-signing-key.json` */
  readonly keyFile: string | undefined;
}

export function localJwtSettings(environment: Environment = process.env): LocalJwtSettings {
  const v = readGroup(localJwtVariables(), environment);
  return {
    issuer: v.LOCAL_JWT_ISSUER ?? 'https://auth.local.enhanced-messaging.dev',
    audience: v.LOCAL_JWT_AUDIENCE ?? 'enhanced-messaging-api',
    keyFile: v.LOCAL_JWT_KEY_FILE,
  };
}

// ---------------------------------------------------------------------------
// The migrations (migrations/lib/safe-ddl.ts) and the migration Lambda.

const migrationVariables = /* @__PURE__ */ lazy(() => ({
  /** Longest wait for a lock before a DDL statement gives up and retries. */
  MIGRATION_LOCK_TIMEOUT: variable(duration(), 'a positive PostgreSQL duration such as 2s, 500ms or 1min'),
  /** Longest time one migration statement may run. */
  MIGRATION_STATEMENT_TIMEOUT: variable(duration(), 'a positive PostgreSQL duration such as 15min, 90s or 1h'),
  /** Attempts at a DDL statement whose lock is busy. */
  MIGRATION_LOCK_ATTEMPTS: variable(wholeNumber(1, 1000), 'a whole number of attempts from 1 to 1000'),
  /** Rows per committed backfill batch. */
  MIGRATION_BATCH_SIZE: variable(wholeNumber(1, 1_000_000), 'a whole number of rows from 1 to 1000000'),
  /** The migrations' own status report off (tests, the bench). */
  EMS_QUIET_MIGRATIONS: variable(onOff(), '1 (quiet) or 0'),
  EMS_ID_TYPE: idTypeVariable(),
}));

export interface MigrationSettings {
  readonly lockTimeout: string;
  readonly statementTimeout: string;
  readonly lockAttempts: number;
  readonly batchSize: number;
  readonly quiet: boolean;
  /** The ids of the tables the baseline creates on an empty database. */
  readonly idType: IdType;
}

export function migrationSettings(environment: Environment = process.env): MigrationSettings {
  const v = readGroup(migrationVariables(), environment);
  return {
    lockTimeout: v.MIGRATION_LOCK_TIMEOUT ?? '2s',
    statementTimeout: v.MIGRATION_STATEMENT_TIMEOUT ?? '15min',
    lockAttempts: v.MIGRATION_LOCK_ATTEMPTS ?? 10,
    batchSize: v.MIGRATION_BATCH_SIZE ?? 5000,
    quiet: v.EMS_QUIET_MIGRATIONS === '1',
    idType: v.EMS_ID_TYPE ?? 'uuid',
  };
}

/**
 * EMS_MIGRATION_CHECKSUMS (the bundled Lambdas, which have no migration sources): recorded
 * migration name → sha256 of its sources. null when unset.
 */
export function migrationChecksumsFromEnvironment(environment: Environment = process.env): Record<string, unknown> | null {
  const raw = environment.EMS_MIGRATION_CHECKSUMS;
  if (!raw) return null;
  let checksums: unknown;
  try {
    checksums = JSON.parse(raw);
  } catch {
    throw new ConfigurationError(['EMS_MIGRATION_CHECKSUMS'], 'EMS_MIGRATION_CHECKSUMS is not valid JSON');
  }
  if (typeof checksums !== 'object' || checksums === null || Array.isArray(checksums)) {
    throw new ConfigurationError(['EMS_MIGRATION_CHECKSUMS'], 'EMS_MIGRATION_CHECKSUMS must be a JSON object of migration name to sha256');
  }
  return checksums as Record<string, unknown>;
}

const migrationLambdaVariables = /* @__PURE__ */ lazy(() => ({
  DATABASE_SECRET_ARN: variable(trimmed(arn), 'the ARN (arn:...) of the cluster secret'),
  DATABASE_NAME: variable(trimmed(nonEmpty), 'a database name'),
  API_USER_SECRET_ARN: variable(trimmed(arn), "the ARN (arn:...) of the API functions' login user secret"),
  VERIFIER_USER_SECRET_ARN: variable(trimmed(arn), "the ARN (arn:...) of the scheduled verification's login user secret"),
  RELAY_USER_SECRET_ARN: variable(trimmed(arn), "the ARN (arn:...) of the event relay's login user secret"),
}));

export interface MigrationLambdaSettings {
  readonly secretArn: string;
  readonly databaseName: string | undefined;
  /** The login users the deploy makes in the database (both set, or neither). */
  readonly loginUserSecretArns?: { readonly api: string; readonly verifier: string; readonly relay?: string };
}

export function migrationLambdaSettings(environment: Environment = process.env): MigrationLambdaSettings {
  const v = readGroup(migrationLambdaVariables(), environment);
  if (!v.DATABASE_SECRET_ARN) throw new ConfigurationError(['DATABASE_SECRET_ARN'], 'DATABASE_SECRET_ARN is not set: expected the ARN of the cluster secret');
  if (Boolean(v.API_USER_SECRET_ARN) !== Boolean(v.VERIFIER_USER_SECRET_ARN)) {
    throw new ConfigurationError(['API_USER_SECRET_ARN', 'VERIFIER_USER_SECRET_ARN'], 'API_USER_SECRET_ARN and VERIFIER_USER_SECRET_ARN are set together or not at all');
  }
  return {
    secretArn: v.DATABASE_SECRET_ARN,
    databaseName: v.DATABASE_NAME,
    ...(v.API_USER_SECRET_ARN && v.VERIFIER_USER_SECRET_ARN
      ? {
          loginUserSecretArns: {
            api: v.API_USER_SECRET_ARN,
            verifier: v.VERIFIER_USER_SECRET_ARN,
            ...(v.RELAY_USER_SECRET_ARN ? { relay: v.RELAY_USER_SECRET_ARN } : {}),
          },
        }
      : {}),
  };
}

// ---------------------------------------------------------------------------
// The Lambda handlers: read and validated once when a function loads.

const handlerVariables = /* @__PURE__ */ lazy(() => ({
  /** node-postgres connection (local server, tests, migration Lambda). */
  DATABASE_URL: variable(exact(nonEmpty), 'a PostgreSQL connection URL', true),
  /** RDS Data API (handlers in AWS). */
  DATA_API_RESOURCE_ARN: variable(exact(arn), 'the ARN (arn:...) of the Aurora cluster'),
  DATA_API_SECRET_ARN: variable(exact(arn), 'the ARN (arn:...) of the cluster secret'),
  DATA_API_DATABASE: variable(exact(nonEmpty), 'a database name'),
  /** Claim identifying the caller (matched against sellers.email / buyers.email). */
  JWT_IDENTITY_CLAIM: variable(exact(nonEmpty), 'a JWT claim name'),
  SERVICE_NAME: variable(exact(nonEmpty), 'a service name'),
  MAX_BODY_BYTES: variable(wholeNumber(1, 2 ** 31), 'a positive whole number of bytes'),
  EMS_ID_TYPE: idTypeVariable(),
}));

export interface Config {
  readonly DATABASE_URL?: string;
  readonly DATA_API_RESOURCE_ARN?: string;
  readonly DATA_API_SECRET_ARN?: string;
  readonly DATA_API_DATABASE?: string;
  readonly JWT_IDENTITY_CLAIM: string;
  readonly SERVICE_NAME: string;
  readonly MAX_BODY_BYTES: number;
  /** The form of the ids the API takes and answers. */
  readonly EMS_ID_TYPE: IdType;
}

let cached: Config | undefined;

export function loadConfig(environment: NodeJS.ProcessEnv = process.env): Config {
  const v = readGroup(handlerVariables(), environment);
  if (!v.DATABASE_URL && !(v.DATA_API_RESOURCE_ARN && v.DATA_API_SECRET_ARN && v.DATA_API_DATABASE)) {
    throw new ConfigurationError(
      ['DATABASE_URL', 'DATA_API_RESOURCE_ARN', 'DATA_API_SECRET_ARN', 'DATA_API_DATABASE'],
      'set DATABASE_URL, or all of DATA_API_RESOURCE_ARN, DATA_API_SECRET_ARN and DATA_API_DATABASE',
    );
  }
  return {
    ...(v.DATABASE_URL ? { DATABASE_URL: v.DATABASE_URL } : {}),
    ...(v.DATA_API_RESOURCE_ARN ? { DATA_API_RESOURCE_ARN: v.DATA_API_RESOURCE_ARN } : {}),
    ...(v.DATA_API_SECRET_ARN ? { DATA_API_SECRET_ARN: v.DATA_API_SECRET_ARN } : {}),
    ...(v.DATA_API_DATABASE ? { DATA_API_DATABASE: v.DATA_API_DATABASE } : {}),
    JWT_IDENTITY_CLAIM: v.JWT_IDENTITY_CLAIM ?? 'email',
    SERVICE_NAME: v.SERVICE_NAME ?? 'enhanced-messaging',
    MAX_BODY_BYTES: v.MAX_BODY_BYTES ?? 16_384,
    EMS_ID_TYPE: v.EMS_ID_TYPE ?? 'uuid',
  };
}

export function config(): Config {
  cached ??= loadConfig();
  return cached;
}

/** For the local server and tests, which set the environment after import. */
export function resetConfig(): void {
  cached = undefined;
}
