/**
 * A local stand-in for the RDS Data API over a real PostgreSQL server, so the
 * Data API adapter is tested through the real AWS SDK v3 client
 * (`new RDSDataClient({ endpoint: endpoint.url, ... })`), never a mock of the database.
 *
 * Protocol (restJson1, as the SDK sends it): POST /Execute, /BeginTransaction,
 * /CommitTransaction, /RollbackTransaction with a JSON body; replies are JSON
 * with status 200, errors carry the exception name in `x-amzn-ErrorType` and
 * `{ "message": ... }` in the body with the status the SDK's model gives that
 * exception (400 for DatabaseErrorException, BadRequestException,
 * DatabaseResumingException, StatementTimeoutException; 404
 * TransactionNotFoundException; 503 ServiceUnavailableError; 504
 * DatabaseUnavailableException; 500 InternalServerErrorException).
 *
 * What it emulates, and how:
 * - Named parameters `:name` (outside literals, quoted identifiers, dollar
 *   quotes and comments; `::` is a cast). Each is bound with the type the Data
 *   API gives it: stringValue -> character varying (so `uuid = :p` fails without
 *   a hint, as on AWS), typeHint UUID/TIMESTAMP/DATE/TIME/DECIMAL/JSON -> uuid /
 *   timestamp / date / time / numeric / json (the hinted string is checked
 *   against the documented format first), longValue -> int8, doubleValue ->
 *   float8, booleanValue -> bool, blobValue -> bytea, isNull -> untyped;
 *   arrayValue is refused ("Array parameters are not supported."). Types are
 *   applied as explicit casts on the placeholders (`$1::varchar`), which
 *   PostgreSQL resolves exactly like a parameter declared with that type.
 * - Statements run through the extended protocol, so several statements in
 *   one call fail as on AWS (42601).
 * - Records as the service returns them (includeResultMetadata adds
 *   columnMetadata with PostgreSQL type names): bool -> booleanValue;
 *   int2/int4/int8/oid -> longValue (stringValue with longReturnType STRING);
 *   float4/float8 -> doubleValue; numeric -> stringValue (decimalReturnType
 *   DOUBLE_OR_LONG: a number); bytea -> blobValue; timestamptz -> stringValue
 *   'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC; arrays -> arrayValue; everything else
 *   (text, uuid, json, jsonb, date, timestamp, ...) -> stringValue in
 *   PostgreSQL's text form; NULL -> isNull. Sessions run with TimeZone UTC (Aurora's default).
 *   formatRecordsAs JSON returns `formattedRecords` instead (numbers for
 *   integers and floats, decimals as strings, booleans, null, other values as text).
 * - SQL errors as Aurora Serverless v2 reports them: DatabaseErrorException
 *   (BadRequestException with `sqlErrorType`, like Serverless v1) whose message
 *   is the PostgreSQL JDBC driver's rendering of the server error plus the SQLSTATE:
 *     `ERROR: <message>[\n  Detail: <detail>][\n  Hint: <hint>][\n  Position: <position>][\n  Where: <where>]; SQLState: <code>`
 * - The 1 MB response limit: records (or formattedRecords, 10 MB) larger than
 *   `responseSizeLimitBytes` answer BadRequestException "Database returned more
 *   than the allowed response size limit"; inside a transaction the service
 *   also ends the transaction, so this does too.
 * - Transactions on dedicated pg clients keyed by transactionId; a second
 *   request while one of the same transaction runs gets DatabaseErrorException
 *   "Transaction is still running a query"; an unknown or finished id gets
 *   TransactionNotFoundException; an idle transaction expires (3 min by default).
 * - Faults on demand: `failNext(n, 'DatabaseResumingException')` answers the
 *   next n requests (optionally of one operation) with that error.
 *
 * Not emulated: BatchExecuteStatement, ExecuteSql, authentication of the ARNs,
 * the exact columnMetadata precision/scale/nullable values (zeros / unknown).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import pg from 'pg';

export const LOCAL_RESOURCE_ARN = 'arn:aws:rds:us-east-1:123456789012:cluster:ems-local';
export const LOCAL_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ems-local-AbCdEf';

export type DataApiOperation = 'ExecuteStatement' | 'BeginTransaction' | 'CommitTransaction' | 'RollbackTransaction';

export type DataApiErrorType =
  | 'BadRequestException'
  | 'DatabaseErrorException'
  | 'DatabaseResumingException'
  | 'DatabaseUnavailableException'
  | 'InternalServerErrorException'
  | 'ServiceUnavailableError'
  | 'StatementTimeoutException'
  | 'TransactionNotFoundException';

const STATUS: Record<DataApiErrorType, number> = {
  BadRequestException: 400,
  DatabaseErrorException: 400,
  DatabaseResumingException: 400,
  StatementTimeoutException: 400,
  TransactionNotFoundException: 404,
  InternalServerErrorException: 500,
  ServiceUnavailableError: 503,
  DatabaseUnavailableException: 504,
};

const DEFAULT_MESSAGES: Record<DataApiErrorType, string> = {
  BadRequestException: 'Bad request',
  DatabaseErrorException: 'There was an error in processing the SQL statement.',
  DatabaseResumingException: 'The Aurora DB instance ems-local-instance-1 is resuming after being auto-paused. Please wait a few seconds and try again.',
  StatementTimeoutException: 'The statement timed out',
  TransactionNotFoundException: 'Transaction is not found',
  InternalServerErrorException: 'Internal server error',
  ServiceUnavailableError: 'Service unavailable',
  DatabaseUnavailableException: 'The database is unavailable',
};

const PATHS: Record<string, DataApiOperation> = {
  '/Execute': 'ExecuteStatement',
  '/BeginTransaction': 'BeginTransaction',
  '/CommitTransaction': 'CommitTransaction',
  '/RollbackTransaction': 'RollbackTransaction',
};

export const RESPONSE_SIZE_LIMIT_MESSAGE = 'Database returned more than the allowed response size limit';

export interface DataApiEndpointOptions {
  /** A PostgreSQL URL; a request's `database` selects another database on the same server. */
  readonly connectionString: string;
  /** The records limit (default 1 MiB, the service's); formattedRecords get 10x. */
  readonly responseSizeLimitBytes?: number;
  /** How SQL errors are reported: Serverless v2/provisioned (default) or Serverless v1. */
  readonly sqlErrorType?: 'DatabaseErrorException' | 'BadRequestException';
  /** An idle transaction ends after this long (default 180 s, the service's). */
  readonly transactionTimeoutMs?: number;
  /** Added to every request before it is answered: the network and service time of a real call. */
  readonly latencyMs?: number;
}

export interface RecordedRequest {
  readonly operation: DataApiOperation | string;
  readonly body: Record<string, unknown>;
}

export interface DataApiEndpoint {
  readonly url: string;
  /** Every request received, oldest first. */
  readonly requests: RecordedRequest[];
  readonly openTransactions: number;
  /** The next `count` requests (of `operation`, when given) answer `errorType`. */
  failNext(count: number, errorType: DataApiErrorType, options?: { operation?: DataApiOperation; message?: string }): void;
  /** A real SDK client pointed at this endpoint (dummy credentials, us-east-1). */
  client(): RDSDataClient;
  close(): Promise<void>;
}

class ServiceError extends Error {
  constructor(
    readonly type: DataApiErrorType,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------
// :name -> $n, with the types the Data API binds

interface SqlParameter {
  name?: string;
  value?: Record<string, unknown>;
  typeHint?: string;
}

const IDENT_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
const IDENT_START = /[A-Za-z_\u0080-\uffff]/;

/**
 * `:name` placeholders outside literals, quoted identifiers, dollar quotes and comments (`::` is a cast).
 * Deliberately not shared with the adapter's `$n` scanner: this stands in for the AWS service, and a
 * shared scanner would let a bug in the adapter's SQL scanning pass its own tests.
 */
function findNamedParameters(sql: string): { name: string; start: number; end: number }[] {
  const found: { name: string; start: number; end: number }[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol === -1 ? n : eol + 1;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql.startsWith('/*', i)) (depth += 1), (i += 2);
        else if (sql.startsWith('*/', i)) (depth -= 1), (i += 2);
        else i += 1;
      }
    } else if (c === "'") {
      const escapes = /[Ee]/.test(sql[i - 1] ?? '') && !IDENT_CHAR.test(sql[i - 2] ?? ' ');
      i += 1;
      while (i < n && !(sql[i] === "'" && sql[i + 1] !== "'")) i += escapes && sql[i] === '\\' ? 2 : sql[i] === "'" ? 2 : 1;
      i += 1;
    } else if (c === '"') {
      i += 1;
      while (i < n && !(sql[i] === '"' && sql[i + 1] !== '"')) i += sql[i] === '"' ? 2 : 1;
      i += 1;
    } else if (c === '$') {
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        i = close === -1 ? n : close + tag[0].length;
      } else i += 1;
    } else if (c === ':' && next === ':') {
      i += 2;
    } else if (c === ':' && next !== undefined && IDENT_START.test(next)) {
      let j = i + 2;
      while (j < n && /[A-Za-z0-9_]/.test(sql[j]!)) j += 1;
      found.push({ name: sql.slice(i + 1, j), start: i, end: j });
      i = j;
    } else if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < n && IDENT_CHAR.test(sql[j]!)) j += 1;
      i = j;
    } else i += 1;
  }
  return found;
}

const HINT_FORMATS: Record<string, { cast: string; format?: RegExp }> = {
  UUID: { cast: 'uuid', format: /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/ },
  TIMESTAMP: { cast: 'timestamp', format: /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$/ },
  DATE: { cast: 'date', format: /^\d{4}-\d{2}-\d{2}$/ },
  TIME: { cast: 'time', format: /^\d{2}:\d{2}:\d{2}(\.\d{1,9})?$/ },
  DECIMAL: { cast: 'numeric' },
  JSON: { cast: 'json' },
};

function bindParameter(parameter: SqlParameter): { value: unknown; cast: string } {
  const field = parameter.value ?? {};
  if ('arrayValue' in field) throw new ServiceError('BadRequestException', 'Array parameters are not supported.');
  if (field.isNull === true) return { value: null, cast: '' };
  if ('stringValue' in field) {
    const text = String(field.stringValue);
    if (!parameter.typeHint) return { value: text, cast: '::varchar' };
    const hint = HINT_FORMATS[parameter.typeHint];
    if (!hint) throw new ServiceError('BadRequestException', `Invalid typeHint: ${parameter.typeHint}`);
    if (hint.format && !hint.format.test(text)) {
      throw new ServiceError('BadRequestException', `Invalid value for typeHint ${parameter.typeHint}: ${JSON.stringify(text)}`);
    }
    return { value: text, cast: `::${hint.cast}` };
  }
  if ('longValue' in field) return { value: String(field.longValue), cast: '::int8' };
  if ('doubleValue' in field) return { value: String(field.doubleValue), cast: '::float8' };
  if ('booleanValue' in field) return { value: field.booleanValue ? 'true' : 'false', cast: '::bool' };
  if ('blobValue' in field) return { value: Buffer.from(String(field.blobValue), 'base64'), cast: '::bytea' };
  throw new ServiceError('BadRequestException', `Parameter ${parameter.name ?? '?'} has no value`);
}

function toPositional(sql: string, parameters: readonly SqlParameter[]): { text: string; values: unknown[] } {
  const byName = new Map<string, SqlParameter>();
  for (const p of parameters) {
    if (!p.name) throw new ServiceError('BadRequestException', 'Parameter name is required');
    byName.set(p.name, p);
  }
  const numbers = new Map<string, { n: number; cast: string }>();
  const values: unknown[] = [];
  let text = '';
  let last = 0;
  for (const placeholder of findNamedParameters(sql)) {
    let bound = numbers.get(placeholder.name);
    if (!bound) {
      const parameter = byName.get(placeholder.name);
      if (!parameter) throw new ServiceError('BadRequestException', `No value specified for parameter: ${placeholder.name}`);
      const { value, cast } = bindParameter(parameter);
      values.push(value);
      bound = { n: values.length, cast };
      numbers.set(placeholder.name, bound);
    }
    text += `${sql.slice(last, placeholder.start)}$${bound.n}${bound.cast}`;
    last = placeholder.end;
  }
  return { text: text + sql.slice(last), values };
}

// ---------------------------------------------------------------------------
// Records

interface PgType {
  readonly name: string;
  readonly elem: number;
  readonly category: string;
}

const JDBC_TYPES: Record<string, number> = {
  bool: -7, int2: 5, int4: 4, int8: -5, oid: -5, numeric: 2, float4: 7, float8: 8, bpchar: 1, varchar: 12, text: 12, name: 12,
  bytea: -2, date: 91, time: 92, timetz: 92, timestamp: 93, timestamptz: 93,
};

const INTEGER_TYPES = new Set(['int2', 'int4', 'int8', 'oid']);
const FLOAT_TYPES = new Set(['float4', 'float8']);
const TEXT_ARRAY_OID = 1009;
const parseTextArray = (pg.types.getTypeParser as (oid: number) => (text: string) => unknown[])(TEXT_ARRAY_OID);

interface ResultOptions {
  longAsString: boolean;
  decimalAsNumber: boolean;
}

/** PostgreSQL's timestamptz text (session TimeZone UTC) -> 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC. */
function utcTimestamp(text: string): string {
  const m = /^(.*?)([+-]\d{2})(?::?(\d{2}))?(?::?(\d{2}))?$/.exec(text);
  if (!m || (m[2] === '+00' && !m[3] && !m[4])) return m ? m[1]! : text;
  const date = new Date(text.replace(' ', 'T').replace(/([+-]\d{2})$/, '$1:00'));
  if (Number.isNaN(date.getTime())) return text;
  const micro = /\.(\d+)/.exec(m[1]!)?.[1];
  return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, micro ? `.${micro}` : '');
}

function scalarField(text: string, type: string, options: ResultOptions): Record<string, unknown> {
  if (type === 'bool') return { booleanValue: text === 't' };
  if (INTEGER_TYPES.has(type)) return options.longAsString ? { stringValue: text } : { longValue: Number(text) };
  if (FLOAT_TYPES.has(type)) return Number.isFinite(Number(text)) ? { doubleValue: Number(text) } : { stringValue: text };
  if (type === 'numeric' && options.decimalAsNumber && Number.isFinite(Number(text))) {
    return Number.isInteger(Number(text)) && !text.includes('.') ? { longValue: Number(text) } : { doubleValue: Number(text) };
  }
  if (type === 'bytea') return { blobValue: Buffer.from(text.replace(/^\\x/, ''), 'hex').toString('base64') };
  if (type === 'timestamptz') return { stringValue: utcTimestamp(text) };
  return { stringValue: text };
}

function arrayValue(elements: unknown[], elementType: string): Record<string, unknown> {
  if (elements.some(Array.isArray)) return { arrayValues: elements.map((e) => arrayValue(e as unknown[], elementType)) };
  const texts = elements as (string | null)[];
  if (INTEGER_TYPES.has(elementType)) return { longValues: texts.map((t) => (t === null ? null : Number(t))) };
  if (FLOAT_TYPES.has(elementType)) return { doubleValues: texts.map((t) => (t === null ? null : Number(t))) };
  if (elementType === 'bool') return { booleanValues: texts.map((t) => (t === null ? null : t === 't')) };
  if (elementType === 'timestamptz') return { stringValues: texts.map((t) => (t === null ? null : utcTimestamp(t))) };
  return { stringValues: texts };
}

function jsonValue(text: string, type: string, options: ResultOptions): unknown {
  if (type === 'bool') return text === 't';
  if (INTEGER_TYPES.has(type)) return options.longAsString ? text : Number(text);
  if (FLOAT_TYPES.has(type)) return Number.isFinite(Number(text)) ? Number(text) : text;
  if (type === 'timestamptz') return utcTimestamp(text);
  if (type === 'bytea') return Buffer.from(text.replace(/^\\x/, ''), 'hex').toString('base64');
  return text;
}

// ---------------------------------------------------------------------------
// The server

interface OpenTransaction {
  readonly client: pg.PoolClient;
  readonly database: string;
  busy: boolean;
  timer?: NodeJS.Timeout;
}

interface Fault {
  remaining: number;
  readonly type: DataApiErrorType;
  readonly operation?: DataApiOperation;
  readonly message?: string;
}

const RAW_TEXT = { getTypeParser: () => (value: string) => value };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startDataApiEndpoint(options: DataApiEndpointOptions): Promise<DataApiEndpoint> {
  const limit = options.responseSizeLimitBytes ?? 1024 * 1024;
  const sqlErrorType = options.sqlErrorType ?? 'DatabaseErrorException';
  const transactionTimeoutMs = options.transactionTimeoutMs ?? 180_000;
  const defaultDatabase = decodeURIComponent(new URL(options.connectionString).pathname.slice(1)) || 'postgres';
  const pools = new Map<string, pg.Pool>();
  const typeCaches = new Map<string, Map<number, PgType>>();
  const transactions = new Map<string, OpenTransaction>();
  const faults: Fault[] = [];
  const requests: RecordedRequest[] = [];
  const clients: RDSDataClient[] = [];

  function pool(database: string): pg.Pool {
    let found = pools.get(database);
    if (!found) {
      const url = new URL(options.connectionString);
      url.pathname = `/${encodeURIComponent(database)}`;
      found = new pg.Pool({ connectionString: url.toString(), max: 10, application_name: 'ems-data-api-endpoint', options: '-c TimeZone=UTC' });
      found.on('error', () => undefined);
      pools.set(database, found);
    }
    return found;
  }

  async function typeOf(database: string, oids: readonly number[]): Promise<Map<number, PgType>> {
    let cache = typeCaches.get(database);
    if (!cache || oids.some((oid) => !cache!.has(oid))) {
      const result = await pool(database).query<{ oid: number; typname: string; typelem: number; typcategory: string }>(
        'SELECT oid::int AS oid, typname, typelem::int AS typelem, typcategory FROM pg_type',
      );
      cache = new Map(result.rows.map((r) => [r.oid, { name: r.typname, elem: r.typelem, category: r.typcategory }]));
      typeCaches.set(database, cache);
    }
    return cache;
  }

  function sqlError(error: unknown): ServiceError {
    const e = error as pg.DatabaseError;
    if (!e || typeof e.code !== 'string' || !e.severity) {
      return new ServiceError('InternalServerErrorException', String((error as Error)?.message ?? error));
    }
    let message = `${e.severity}: ${e.message}`;
    if (e.detail) message += `\n  Detail: ${e.detail}`;
    if (e.hint) message += `\n  Hint: ${e.hint}`;
    if (e.position) message += `\n  Position: ${e.position}`;
    if (e.where) message += `\n  Where: ${e.where}`;
    return new ServiceError(sqlErrorType, `${message}; SQLState: ${e.code}`);
  }

  function transaction(id: unknown): OpenTransaction {
    const found = typeof id === 'string' ? transactions.get(id) : undefined;
    if (!found) throw new ServiceError('TransactionNotFoundException', `Transaction ${String(id)} is not found`);
    if (found.busy) throw new ServiceError('DatabaseErrorException', 'Transaction is still running a query');
    return found;
  }

  async function endTransaction(id: string, sql: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    const tx = transactions.get(id);
    if (!tx) return;
    transactions.delete(id);
    clearTimeout(tx.timer);
    try {
      await tx.client.query(sql);
      tx.client.release();
    } catch (error) {
      tx.client.release(error as Error);
      throw error;
    }
  }

  function touch(id: string, tx: OpenTransaction): void {
    clearTimeout(tx.timer);
    tx.timer = setTimeout(() => void endTransaction(id, 'ROLLBACK').catch(() => undefined), transactionTimeoutMs);
    tx.timer.unref();
  }

  async function execute(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (typeof body.sql !== 'string' || body.sql.trim() === '') throw new ServiceError('BadRequestException', 'sql is required');
    const { text, values } = toPositional(body.sql, (body.parameters as SqlParameter[] | undefined) ?? []);
    const resultOptions: ResultOptions = {
      longAsString: (body.resultSetOptions as { longReturnType?: string } | undefined)?.longReturnType === 'STRING',
      decimalAsNumber: (body.resultSetOptions as { decimalReturnType?: string } | undefined)?.decimalReturnType === 'DOUBLE_OR_LONG',
    };
    const transactionId = body.transactionId as string | undefined;
    const tx = transactionId !== undefined ? transaction(transactionId) : undefined;
    const database = tx?.database ?? (body.database as string | undefined) ?? defaultDatabase;
    let result: pg.QueryArrayResult;
    if (tx) tx.busy = true;
    try {
      const config = { text, values, rowMode: 'array' as const, types: RAW_TEXT, queryMode: 'extended' };
      result = tx ? await tx.client.query(config as pg.QueryArrayConfig) : await pool(database).query(config as pg.QueryArrayConfig);
    } catch (error) {
      throw sqlError(error);
    } finally {
      if (tx) {
        tx.busy = false;
        touch(transactionId!, tx);
      }
    }
    const response: Record<string, unknown> = {
      numberOfRecordsUpdated: ['INSERT', 'UPDATE', 'DELETE', 'MERGE'].includes(result.command) ? (result.rowCount ?? 0) : 0,
    };
    if (result.fields.length === 0) return response;
    const types = await typeOf(database, result.fields.map((f) => f.dataTypeID));
    const columns = result.fields.map((f) => {
      const type = types.get(f.dataTypeID) ?? { name: 'unknown', elem: 0, category: 'X' };
      return { field: f, type, element: type.category === 'A' ? (types.get(type.elem)?.name ?? 'text') : undefined };
    });
    if (body.formatRecordsAs === 'JSON') {
      const objects = result.rows.map((row) =>
        Object.fromEntries(columns.map((c, i) => [c.field.name, row[i] === null ? null : c.element ? parseTextArray(row[i] as string) : jsonValue(row[i] as string, c.type.name, resultOptions)])),
      );
      const formattedRecords = JSON.stringify(objects);
      if (Buffer.byteLength(formattedRecords) > limit * 10) await tooLarge(transactionId);
      return { ...response, formattedRecords };
    }
    const records = result.rows.map((row) =>
      columns.map((c, i) => {
        const value = row[i] as string | null;
        if (value === null) return { isNull: true };
        if (c.element) return { arrayValue: arrayValue(parseTextArray(value), c.element) };
        return scalarField(value, c.type.name, resultOptions);
      }),
    );
    if (Buffer.byteLength(JSON.stringify(records)) > limit) await tooLarge(transactionId);
    response.records = records;
    if (body.includeResultMetadata === true) {
      response.columnMetadata = columns.map(({ field, type }) => ({
        arrayBaseColumnType: type.category === 'A' ? (JDBC_TYPES[types.get(type.elem)?.name ?? ''] ?? 1111) : 0,
        isAutoIncrement: false,
        isCaseSensitive: ['text', 'varchar', 'bpchar', 'name'].includes(type.name),
        isCurrency: type.name === 'money',
        isSigned: INTEGER_TYPES.has(type.name) || FLOAT_TYPES.has(type.name) || type.name === 'numeric',
        label: field.name,
        name: field.name,
        nullable: 2,
        precision: 0,
        scale: 0,
        schemaName: '',
        tableName: '',
        type: type.category === 'A' ? 2003 : (JDBC_TYPES[type.name] ?? 1111),
        typeName: type.name,
      }));
    }
    return response;
  }

  async function tooLarge(transactionId: string | undefined): Promise<never> {
    if (transactionId) await endTransaction(transactionId, 'ROLLBACK').catch(() => undefined);
    throw new ServiceError('BadRequestException', RESPONSE_SIZE_LIMIT_MESSAGE);
  }

  async function handle(operation: DataApiOperation, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const fault = faults.find((f) => f.remaining > 0 && (!f.operation || f.operation === operation));
    if (fault) {
      fault.remaining -= 1;
      throw new ServiceError(fault.type, fault.message ?? DEFAULT_MESSAGES[fault.type], fault.type === 'StatementTimeoutException' ? { dbConnectionId: 1 } : {});
    }
    if (typeof body.resourceArn !== 'string' || typeof body.secretArn !== 'string') {
      throw new ServiceError('BadRequestException', 'resourceArn and secretArn are required');
    }
    switch (operation) {
      case 'ExecuteStatement':
        return execute(body);
      case 'BeginTransaction': {
        const database = (body.database as string | undefined) ?? defaultDatabase;
        const client = await pool(database).connect();
        try {
          await client.query('BEGIN');
        } catch (error) {
          client.release(error as Error);
          throw sqlError(error);
        }
        const id = randomBytes(48).toString('base64');
        const tx: OpenTransaction = { client, database, busy: false };
        transactions.set(id, tx);
        touch(id, tx);
        return { transactionId: id };
      }
      case 'CommitTransaction': {
        transaction(body.transactionId);
        await endTransaction(body.transactionId as string, 'COMMIT').catch((error) => {
          throw sqlError(error);
        });
        return { transactionStatus: 'Transaction Committed' };
      }
      case 'RollbackTransaction': {
        transaction(body.transactionId);
        await endTransaction(body.transactionId as string, 'ROLLBACK').catch((error) => {
          throw sqlError(error);
        });
        return { transactionStatus: 'Rollback Complete' };
      }
    }
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const reply = (status: number, payload: Record<string, unknown>, errorType?: string) => {
        const headers: Record<string, string> = { 'content-type': 'application/json', 'x-amzn-requestid': randomUUID() };
        if (errorType) headers['x-amzn-errortype'] = errorType;
        res.writeHead(status, headers);
        res.end(JSON.stringify(payload));
      };
      const operation = req.method === 'POST' ? PATHS[(req.url ?? '').split('?')[0]!] : undefined;
      let body: Record<string, unknown>;
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
      } catch {
        reply(400, { message: 'Malformed JSON body' }, 'BadRequestException');
        return;
      }
      requests.push({ operation: operation ?? `${req.method} ${req.url}`, body });
      if (!operation) {
        reply(404, { message: `Unknown operation ${req.method} ${req.url}` }, 'NotFoundException');
        return;
      }
      const answer = options.latencyMs ? sleep(options.latencyMs).then(() => handle(operation, body)) : handle(operation, body);
      answer.then(
        (payload) => reply(200, payload),
        (error: unknown) => {
          const e = error instanceof ServiceError ? error : sqlError(error);
          reply(STATUS[e.type], { message: e.message, ...e.extra }, e.type);
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    requests,
    get openTransactions() {
      return transactions.size;
    },
    failNext(count, errorType, failOptions = {}) {
      faults.push({ remaining: count, type: errorType, operation: failOptions.operation, message: failOptions.message });
    },
    client() {
      const client = new RDSDataClient({
        endpoint: url,
        region: 'us-east-1',
        credentials: { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'local-test-secret' },
        maxAttempts: 1,
      });
      clients.push(client);
      return client;
    },
    async close() {
      for (const id of [...transactions.keys()]) await endTransaction(id, 'ROLLBACK').catch(() => undefined);
      for (const client of clients) client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...pools.values()].map((p) => p.end()));
    },
  };
}
