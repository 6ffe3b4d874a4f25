/**
 * The `Database` port over the RDS Data API (AWS SDK v3 `RDSDataClient`), used by
 * the handlers and the verification Lambda in AWS (no VPC, no connection pool).
 *
 * Same contract as `pg-adapter.ts`: SQL with PostgreSQL's positional `$1..$n`
 * parameters, rows shaped as node-postgres shapes them with that adapter's
 * parsers (int8 and numeric as numbers, timestamptz as Date, json(b) parsed).
 *
 * Parameters. The Data API takes named parameters (`:name`) only, so `$n` is
 * rewritten to `:pn` outside string literals, quoted identifiers, dollar-quoted
 * bodies and comments (`::` casts are left alone). The Data API binds a plain
 * `stringValue` as `character varying`, not as an untyped literal the way
 * node-postgres does, so values get a typeHint where PostgreSQL needs one:
 *
 *   JS value                        Field           typeHint
 *   null / undefined                isNull          -
 *   boolean                         booleanValue    -
 *   integer number (safe range)     longValue       -
 *   other finite number             doubleValue     -
 *   NaN / ±Infinity                 stringValue     DECIMAL
 *   bigint                          longValue, or stringValue + DECIMAL beyond 2^53
 *   Date                            stringValue 'YYYY-MM-DD HH:MM:SS.fff' (UTC)  TIMESTAMP
 *   Buffer / Uint8Array             blobValue       -
 *   array                           stringValue: a PostgreSQL array literal `{"a","b"}`, no hint
 *   plain object                    stringValue: JSON.stringify(value)           JSON
 *   uuid-shaped string              stringValue     UUID   (unless every use is cast, see below)
 *   any other string                stringValue     -      (character varying)
 *
 * - Arrays: the Data API refuses array parameters ("Array parameters are not
 *   supported"), so an array travels as its PostgreSQL literal in a varchar.
 *   The SQL must cast it, `$1::text[]` / `unnest($1::uuid[])` /
 *   `= ANY($1::text[])`; a bare `= ANY($1)` fails (varchar is not an array).
 * - A parameter whose every occurrence is explicitly cast (`$1::text`,
 *   `CAST($1 AS date)`) is sent without a UUID hint: the cast decides its type.
 *   This is how SQL passes a uuid-shaped string where text is wanted
 *   (`set_config('ems.actor', $1::text, true)`): a UUID-hinted value does not
 *   match a text parameter of a function (no implicit uuid -> text cast).
 * - TIMESTAMP hints carry UTC wall-clock time; `::timestamptz` reads them in the
 *   session time zone, which is UTC on Aurora unless the cluster changed it.
 *
 * Results: ExecuteStatement with `includeResultMetadata` and the default record
 * format, mapped by each column's `typeName` (see `fromField`). The Data API
 * returns timestamptz in UTC as 'YYYY-MM-DD HH:MM:SS[.ffffff]', numeric as a
 * string (decimalReturnType STRING), int2/4/8 as longValue, json(b) as text.
 *
 * Errors are normalised into `DataApiError` with the fields domain code reads:
 * - SQL errors (DatabaseErrorException on Serverless v2 and provisioned;
 *   BadRequestException on Serverless v1) carry the PostgreSQL JDBC driver's
 *   rendering of the server error plus the SQLSTATE:
 *     `ERROR: <message>[\n  Detail: <d>][\n  Hint: <h>][\n  Position: <p>][\n  Where: <w>]; SQLState: <code>`
 *   `parseDataApiErrorMessage` reads that back into message, code, detail, hint,
 *   position and where, so `detail` starting with 'ems:' and `code` (e.g. P0001,
 *   40001) work exactly as with node-postgres.
 * - "Database returned more than the allowed response size limit" (the 1 MB
 *   result limit) becomes `DataApiResultTooLargeError` (code 54000) telling the
 *   caller to page the query.
 * - DatabaseResumingException (Aurora Serverless v2 waking from auto-pause) is
 *   retried with exponential backoff and jitter (default: up to 6 attempts,
 *   at most 30 s of waiting in total); if it persists it becomes code 57P03
 *   (cannot_connect_now), which the domain maps to 503 "retry shortly".
 *   DatabaseUnavailableException / ServiceUnavailableError become 08006,
 *   StatementTimeoutException 57014.
 *
 * Transactions: BeginTransaction / ExecuteStatement(transactionId) /
 * CommitTransaction, RollbackTransaction when the work throws. Statements of
 * one transaction are sent one at a time (the Data API refuses a second
 * request while one runs: "Transaction is still running a query"), like
 * node-postgres queues them on its client. A nested `transaction` joins the
 * outer one, as in the pg adapter.
 */
import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RDSDataClient,
  RollbackTransactionCommand,
  type ColumnMetadata,
  type ExecuteStatementCommandOutput,
  type Field,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import type { Database, Row } from './port';

export interface DataApiRetryOptions {
  /** Attempts in all, the first included. Default 6. */
  readonly maxAttempts?: number;
  /** First backoff; doubles per attempt (with jitter). Default 1000 ms. */
  readonly baseDelayMs?: number;
  /** Ceiling of one backoff. Default 10 s. */
  readonly maxDelayMs?: number;
  /** Ceiling of all backoffs of one call together. Default 30 s. */
  readonly maxTotalWaitMs?: number;
}

/** What the adapter tells its observer about a call the Data API itself did not answer (SQL errors are the caller's). */
export type DataApiCallEvent =
  /** The call is tried again after `delayMs` (Aurora resuming from auto-pause). */
  | { readonly kind: 'retry'; readonly errorType: string; readonly attempt: number; readonly delayMs: number }
  /** The call failed at the service (throttled, unavailable, resuming for too long, refused), not in SQL. */
  | { readonly kind: 'error'; readonly errorType: string };

export interface DataApiDatabaseOptions {
  readonly resourceArn: string;
  readonly secretArn: string;
  readonly database: string;
  /** A client of your own (endpoint, credentials, region); closed by `close()` only when created here. */
  readonly client?: RDSDataClient;
  readonly retry?: DataApiRetryOptions;
  /** Told of every retry and service error (the functions count them as metrics: from-config.ts). */
  readonly observe?: (event: DataApiCallEvent) => void;
}

// ---------------------------------------------------------------------------
// Errors

/** A failed Data API call, with node-postgres' error fields where the service gave them. */
export class DataApiError extends Error {
  /** SQLSTATE when known (P0001, 23505, 40001, ...). */
  readonly code?: string;
  readonly detail?: string;
  readonly hint?: string;
  readonly position?: string;
  readonly where?: string;
  readonly severity?: string;
  /** The service's exception name (DatabaseErrorException, BadRequestException, ...). */
  readonly dataApiErrorType: string;

  constructor(
    message: string,
    fields: { code?: string; detail?: string; hint?: string; position?: string; where?: string; severity?: string; dataApiErrorType: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
    this.code = fields.code;
    this.detail = fields.detail;
    this.hint = fields.hint;
    this.position = fields.position;
    this.where = fields.where;
    this.severity = fields.severity;
    this.dataApiErrorType = fields.dataApiErrorType;
  }
}

/** The result did not fit in the Data API's 1 MB response. */
export class DataApiResultTooLargeError extends DataApiError {}

export interface ParsedDatabaseError {
  readonly severity?: string;
  readonly message: string;
  readonly code?: string;
  readonly detail?: string;
  readonly hint?: string;
  readonly position?: string;
  readonly where?: string;
}

const FIELD_ORDER = ['Detail', 'Hint', 'Position', 'Where'] as const;
const SQLSTATE_SUFFIX = /;\s*SQLState:\s*([0-9A-Z]{5})\s*$/;
const SEVERITY_PREFIX = /^(ERROR|FATAL|PANIC|WARNING|NOTICE|DEBUG|INFO|LOG):\s?/;

/**
 * Reads the Data API's rendering of a PostgreSQL error back into its fields:
 * `SEVERITY: message`, then `\n  Detail: `, `\n  Hint: `, `\n  Position: `,
 * `\n  Where: ` (each optional, in that order), then `; SQLState: XXXXX`.
 */
export function parseDataApiErrorMessage(text: string): ParsedDatabaseError {
  let rest = text;
  let code: string | undefined;
  const state = SQLSTATE_SUFFIX.exec(rest);
  if (state) {
    code = state[1];
    rest = rest.slice(0, state.index);
  }
  let severity: string | undefined;
  const sev = SEVERITY_PREFIX.exec(rest);
  if (sev) {
    severity = sev[1];
    rest = rest.slice(sev[0].length);
  }
  const fields: Partial<Record<(typeof FIELD_ORDER)[number], string>> = {};
  // Split on the markers, honouring their order so a marker-like text inside a
  // field (a multi-line Where) stays part of that field.
  const marker = /\n {2}(Detail|Hint|Position|Where): /g;
  let message = rest;
  let current: (typeof FIELD_ORDER)[number] | undefined;
  let start = 0;
  let lastRank = -1;
  for (let m = marker.exec(rest); m; m = marker.exec(rest)) {
    const key = m[1] as (typeof FIELD_ORDER)[number];
    const rank = FIELD_ORDER.indexOf(key);
    if (rank <= lastRank) continue;
    const chunk = rest.slice(start, m.index);
    if (current) fields[current] = chunk;
    else message = chunk;
    current = key;
    lastRank = rank;
    start = m.index + m[0].length;
  }
  if (current) fields[current] = rest.slice(start);
  return { severity, message, code, detail: fields.Detail, hint: fields.Hint, position: fields.Position, where: fields.Where };
}

const RESPONSE_TOO_LARGE = /response size limit|response exceeded size limit|exceeded the .*size limit/i;
const SQL_ERROR_TYPES = new Set(['DatabaseErrorException', 'BadRequestException']);
const UNAVAILABLE_TYPES = new Set(['DatabaseUnavailableException', 'ServiceUnavailableError']);

/** Maps an SDK error to a `DataApiError` the domain can read; anything else is returned unchanged. */
export function normaliseDataApiError(error: unknown): unknown {
  if (error instanceof DataApiError || !(error instanceof Error)) return error;
  const type = error.name;
  const text = error.message ?? '';
  if (SQL_ERROR_TYPES.has(type) && RESPONSE_TOO_LARGE.test(text)) {
    return new DataApiResultTooLargeError(
      `The query result exceeded the RDS Data API's 1 MB response limit: page the query (LIMIT with keyset or OFFSET paging) ` +
        `so each call returns less. Data API said: ${text}`,
      { code: '54000', dataApiErrorType: type },
      { cause: error },
    );
  }
  if (SQL_ERROR_TYPES.has(type)) {
    const parsed = parseDataApiErrorMessage(text);
    if (parsed.code || parsed.severity) {
      return new DataApiError(parsed.message, { ...parsed, dataApiErrorType: type }, { cause: error });
    }
    return new DataApiError(text, { dataApiErrorType: type }, { cause: error });
  }
  if (type === 'DatabaseResumingException') {
    return new DataApiError(`The database is resuming from auto-pause: ${text}`, { code: '57P03', dataApiErrorType: type }, { cause: error });
  }
  if (UNAVAILABLE_TYPES.has(type)) {
    return new DataApiError(`The database is unavailable: ${text || type}`, { code: '08006', dataApiErrorType: type }, { cause: error });
  }
  if (type === 'StatementTimeoutException') {
    return new DataApiError(`The statement timed out: ${text}`, { code: '57014', dataApiErrorType: type }, { cause: error });
  }
  return error;
}

// ---------------------------------------------------------------------------
// SQL: $n -> :pn

interface Placeholder {
  readonly index: number; // 1-based
  readonly start: number;
  readonly end: number;
  readonly cast: boolean;
}

const IDENT_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
const IDENT_START = /[A-Za-z_\u0080-\uffff]/;

/** Positions of `$n` outside literals, quoted identifiers, dollar quotes and comments. */
export function findPositionalParameters(sql: string): Placeholder[] {
  const found: Placeholder[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const eol = sql.indexOf('\n', i + 2);
      i = eol === -1 ? n : eol + 1;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') (depth += 1), (i += 2);
        else if (sql[i] === '*' && sql[i + 1] === '/') (depth -= 1), (i += 2);
        else i += 1;
      }
    } else if (c === "'") {
      const prev = sql[i - 1];
      const escapes = (prev === 'E' || prev === 'e') && !(i >= 2 && IDENT_CHAR.test(sql[i - 2]!));
      i += 1;
      while (i < n) {
        if (escapes && sql[i] === '\\') i += 2;
        else if (sql[i] === "'" && sql[i + 1] === "'") i += 2;
        else if (sql[i] === "'") break;
        else i += 1;
      }
      i += 1;
    } else if (c === '"') {
      i += 1;
      while (i < n) {
        if (sql[i] === '"' && sql[i + 1] === '"') i += 2;
        else if (sql[i] === '"') break;
        else i += 1;
      }
      i += 1;
    } else if (c === '$') {
      const inIdentifier = i > 0 && IDENT_CHAR.test(sql[i - 1]!);
      if (inIdentifier) {
        i += 1;
      } else if (next !== undefined && next >= '0' && next <= '9') {
        let j = i + 1;
        while (j < n && sql[j]! >= '0' && sql[j]! <= '9') j += 1;
        found.push({ index: Number(sql.slice(i + 1, j)), start: i, end: j, cast: isCast(sql, i, j) });
        i = j;
      } else {
        const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i));
        if (tag) {
          const close = sql.indexOf(tag[0], i + tag[0].length);
          i = close === -1 ? n : close + tag[0].length;
        } else {
          i += 1;
        }
      }
    } else if (IDENT_START.test(c)) {
      // A whole identifier or keyword (they may contain `$` and digits: `x$1` is a name, not a parameter).
      let j = i + 1;
      while (j < n && IDENT_CHAR.test(sql[j]!)) j += 1;
      i = j;
    } else {
      i += 1;
    }
  }
  return found;
}

/** `$n::type` or `CAST($n AS type)`: the SQL decides the type itself. */
function isCast(sql: string, start: number, end: number): boolean {
  const after = sql.slice(end).replace(/^\s+/, '');
  if (after.startsWith('::')) return true;
  const before = sql.slice(0, start).replace(/\s+$/, '');
  return /\bcast\s*\($/i.test(before) && /^as\b/i.test(after);
}

export interface DataApiStatement {
  readonly sql: string;
  readonly parameters: SqlParameter[];
}

/** Rewrites `$n` to `:pn` and turns the values into Data API parameters (see the header for the mapping). */
export function toDataApiStatement(sql: string, params: readonly unknown[] = []): DataApiStatement {
  const placeholders = findPositionalParameters(sql);
  const bareUse = new Set<number>();
  let text = '';
  let last = 0;
  for (const p of placeholders) {
    if (p.index < 1 || p.index > params.length) {
      throw Object.assign(new Error(`the SQL uses $${p.index} but ${params.length} parameter(s) were given`), { code: '08P01' });
    }
    if (!p.cast) bareUse.add(p.index);
    text += `${sql.slice(last, p.start)}:p${p.index}`;
    last = p.end;
  }
  text += sql.slice(last);
  const parameters = params.map((value, i) => toSqlParameter(`p${i + 1}`, value, bareUse.has(i + 1)));
  return { sql: text, parameters };
}

const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** 'YYYY-MM-DD HH:MM:SS.fff' in UTC: the TIMESTAMP hint's format. */
export function formatTimestampUtc(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new TypeError('an invalid Date cannot be sent as a parameter');
  const year = date.getUTCFullYear();
  if (year < 1 || year > 9999) throw new TypeError(`a Date in year ${year} cannot be sent as a TIMESTAMP parameter`);
  return (
    `${pad(year, 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.${pad(date.getUTCMilliseconds(), 3)}`
  );
}

/** A PostgreSQL array literal, as node-postgres writes arrays: elements quoted, NULL for null. */
export function toPostgresArrayLiteral(values: readonly unknown[]): string {
  const element = (value: unknown): string => {
    if (value === null || value === undefined) return 'NULL';
    if (Array.isArray(value)) return toPostgresArrayLiteral(value);
    let text: string;
    if (value instanceof Date) text = value.toISOString();
    else if (Buffer.isBuffer(value) || value instanceof Uint8Array) text = `\\x${Buffer.from(value).toString('hex')}`;
    else if (typeof value === 'object') text = JSON.stringify(value);
    else text = String(value);
    return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  };
  return `{${values.map(element).join(',')}}`;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function toSqlParameter(name: string, value: unknown, bareUse: boolean): SqlParameter {
  if (value === null || value === undefined) return { name, value: { isNull: true } };
  switch (typeof value) {
    case 'boolean':
      return { name, value: { booleanValue: value } };
    case 'number':
      if (!Number.isFinite(value)) return { name, value: { stringValue: String(value) }, typeHint: 'DECIMAL' };
      return Number.isSafeInteger(value) ? { name, value: { longValue: value } } : { name, value: { doubleValue: value } };
    case 'bigint':
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? { name, value: { longValue: Number(value) } }
        : { name, value: { stringValue: value.toString() }, typeHint: 'DECIMAL' };
    case 'string':
      return bareUse && UUID_SHAPE.test(value) ? { name, value: { stringValue: value }, typeHint: 'UUID' } : { name, value: { stringValue: value } };
    case 'object':
      if (value instanceof Date) return { name, value: { stringValue: formatTimestampUtc(value) }, typeHint: 'TIMESTAMP' };
      if (Buffer.isBuffer(value) || value instanceof Uint8Array) return { name, value: { blobValue: new Uint8Array(value) } };
      if (Array.isArray(value)) return { name, value: { stringValue: toPostgresArrayLiteral(value) } };
      if (isPlainObject(value)) return { name, value: { stringValue: JSON.stringify(value) }, typeHint: 'JSON' };
      return { name, value: { stringValue: String(value) } };
    default:
      throw new TypeError(`a ${typeof value} cannot be sent as a SQL parameter (${name})`);
  }
}

// ---------------------------------------------------------------------------
// Results

const TIMESTAMP_TEXT = /^(\d{4,})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:\s*(Z|[+-]\d{2}(?::?\d{2})?))?$/;
const DATE_TEXT = /^(\d{4,})-(\d{2})-(\d{2})$/;

/** Data API timestamp text ('YYYY-MM-DD HH:MM:SS[.f]'), read in UTC (timestamptz) or local time (timestamp, as node-postgres does). */
function parseTimestamp(text: string, utc: boolean): Date | string {
  const m = TIMESTAMP_TEXT.exec(text);
  if (!m) return text; // 'infinity', BC dates: as text
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms] as const;
  if (zone) {
    const base = Date.UTC(...parts);
    if (zone === 'Z') return new Date(base);
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetMinutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0');
    return new Date(base - sign * offsetMinutes * 60_000);
  }
  return utc ? new Date(Date.UTC(...parts)) : new Date(...parts);
}

function parseDate(text: string): Date | string {
  const m = DATE_TEXT.exec(text);
  return m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : text;
}

/** A scalar in a column of PostgreSQL type `type` (lower-case typname), as node-postgres + pg-adapter would give it. */
function fromText(text: string, type: string): unknown {
  switch (type) {
    case 'numeric':
    case 'decimal':
    case 'int8':
    case 'bigint':
    case 'bigserial':
    case 'int2':
    case 'int4':
    case 'serial':
    case 'oid':
    case 'float4':
    case 'float8':
      return Number(text);
    case 'timestamptz':
      return parseTimestamp(text, true);
    case 'timestamp':
      return parseTimestamp(text, false);
    case 'date':
      return parseDate(text);
    case 'json':
    case 'jsonb':
      return JSON.parse(text);
    case 'bool':
      return text === 't' || text === 'true';
    default:
      return text;
  }
}

function fromArray(array: NonNullable<Field['arrayValue']>, elementType: string): unknown[] {
  if (array.arrayValues) return array.arrayValues.map((inner) => (inner === null ? null : fromArray(inner, elementType)));
  if (array.longValues) {
    // node-postgres leaves int8[] elements as strings (only scalar int8 is parsed by pg-adapter).
    return elementType === 'int8' ? array.longValues.map((v) => (v === null ? null : String(v))) : [...array.longValues];
  }
  if (array.doubleValues) return [...array.doubleValues];
  if (array.booleanValues) return [...array.booleanValues];
  if (array.stringValues) return array.stringValues.map((v) => (v === null ? null : fromText(v, elementType)));
  return [];
}

/** One field of a record, by its column's type name. */
export function fromField(field: Field, column: ColumnMetadata | undefined): unknown {
  const type = (column?.typeName ?? '').toLowerCase();
  if (field.isNull) return null;
  if (field.arrayValue !== undefined) return fromArray(field.arrayValue, type.replace(/^_/, ''));
  if (field.booleanValue !== undefined) return field.booleanValue;
  if (field.longValue !== undefined) return field.longValue;
  if (field.doubleValue !== undefined) return field.doubleValue;
  if (field.blobValue !== undefined) return Buffer.from(field.blobValue);
  if (field.stringValue !== undefined) return fromText(field.stringValue, type);
  return null;
}

function toRows<T>(output: ExecuteStatementCommandOutput): T[] {
  const records = output.records ?? [];
  if (records.length === 0) return [];
  const columns = output.columnMetadata ?? [];
  const names = columns.map((c, i) => c.label || c.name || `?column${i}?`);
  return records.map((record) => {
    const row: Record<string, unknown> = {};
    record.forEach((field, i) => {
      row[names[i] ?? `?column${i}?`] = fromField(field, columns[i]);
    });
    return row as T;
  });
}

// ---------------------------------------------------------------------------
// The adapter

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class DataApiTransaction implements Database {
  private queue: Promise<unknown> = Promise.resolve();
  ended = false;

  constructor(
    private readonly owner: DataApiDatabase,
    readonly id: string,
  ) {}

  /** Statements of one transaction go one at a time. */
  enqueue<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async query<T extends object = Row>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.enqueue(() => {
      if (this.ended) throw new Error('this transaction has already ended');
      return this.owner.execute<T>(sql, params, this.id);
    });
  }

  async transaction<T>(work: (tx: Database) => Promise<T>): Promise<T> {
    return work(this); // already inside one: nested work joins it
  }

  async close(): Promise<void> {}
}

export class DataApiDatabase implements Database {
  readonly client: RDSDataClient;
  private readonly ownsClient: boolean;
  private readonly retry: Required<DataApiRetryOptions>;

  constructor(private readonly options: DataApiDatabaseOptions) {
    this.ownsClient = !options.client;
    this.client = options.client ?? new RDSDataClient({});
    this.retry = {
      maxAttempts: options.retry?.maxAttempts ?? 6,
      baseDelayMs: options.retry?.baseDelayMs ?? 1000,
      maxDelayMs: options.retry?.maxDelayMs ?? 10_000,
      maxTotalWaitMs: options.retry?.maxTotalWaitMs ?? 30_000,
    };
  }

  /** Sends a command, retrying while Aurora resumes from auto-pause; errors come back normalised. */
  private async send<O>(call: () => Promise<O>): Promise<O> {
    let waited = 0;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await call();
      } catch (error) {
        const resuming = error instanceof Error && error.name === 'DatabaseResumingException';
        if (resuming && attempt < this.retry.maxAttempts && waited < this.retry.maxTotalWaitMs) {
          const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
          const delay = Math.min(Math.round(ceiling * (0.5 + Math.random() / 2)), this.retry.maxTotalWaitMs - waited);
          this.options.observe?.({ kind: 'retry', errorType: 'DatabaseResumingException', attempt, delayMs: delay });
          await sleep(delay);
          waited += delay;
          continue;
        }
        const normalised = normaliseDataApiError(error);
        // An SQL error (a refusal, a conflict) is the statement's answer, not the service failing.
        const sqlAnswer =
          normalised instanceof DataApiError && SQL_ERROR_TYPES.has(normalised.dataApiErrorType) && normalised.code !== undefined && !(normalised instanceof DataApiResultTooLargeError);
        if (!sqlAnswer) {
          this.options.observe?.({ kind: 'error', errorType: normalised instanceof DataApiError ? normalised.dataApiErrorType : (error as Error)?.name ?? 'Error' });
        }
        throw normalised;
      }
    }
  }

  /** @internal one ExecuteStatement, inside `transactionId` when given. */
  async execute<T>(sql: string, params: readonly unknown[], transactionId?: string): Promise<T[]> {
    const statement = toDataApiStatement(sql, params);
    const output = await this.send(() =>
      this.client.send(
        new ExecuteStatementCommand({
          resourceArn: this.options.resourceArn,
          secretArn: this.options.secretArn,
          database: this.options.database,
          sql: statement.sql,
          parameters: statement.parameters.length > 0 ? statement.parameters : undefined,
          transactionId,
          includeResultMetadata: true,
        }),
      ),
    );
    return toRows<T>(output);
  }

  async query<T extends object = Row>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.execute<T>(sql, params);
  }

  async transaction<T>(work: (tx: Database) => Promise<T>): Promise<T> {
    const { resourceArn, secretArn, database } = this.options;
    const begun = await this.send(() => this.client.send(new BeginTransactionCommand({ resourceArn, secretArn, database })));
    const transactionId = begun.transactionId;
    if (!transactionId) throw new Error('BeginTransaction returned no transactionId');
    const tx = new DataApiTransaction(this, transactionId);
    try {
      const result = await work(tx);
      await tx.enqueue(async () => {
        tx.ended = true;
        await this.send(() => this.client.send(new CommitTransactionCommand({ resourceArn, secretArn, transactionId })));
      });
      return result;
    } catch (error) {
      if (!tx.ended) {
        await tx
          .enqueue(async () => {
            tx.ended = true;
            await this.send(() => this.client.send(new RollbackTransactionCommand({ resourceArn, secretArn, transactionId })));
          })
          .catch(() => undefined); // the service may already have ended it; the work's error is what matters
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }
}
