/**
 * The pre-flight: everything the messaging migrations and the routing rely on in the marketplace's
 * database, checked before anything changes, so that a database they cannot be installed on is
 * refused with one report that names every problem and the query that finds it, instead of a
 * migration failing halfway.
 *
 * Run by the runner (`npm run migrate:messaging`, the deploy-time migration Lambda) before it
 * applies anything, and before the first messaging migration that `npx knex migrate:latest` /
 * `migrate:up` applies (./safeguards.ts).
 *
 * With nothing left to apply, only the server and the base tables and columns are checked: a
 * database the migrations were installed on stays green.
 */
import { BASE_TABLES, REQUIRED_BASE_COLUMNS } from '../../migrations/20250101000000_base_marketplace_schema';
import { MESSAGING_MIGRATION_NAMES } from '../../migrations';
import { CHECKSUM_TABLE } from '../../migrations/lib/checksums';
import { ID_DOMAIN_TABLES } from '../../migrations/lib/id-domains';
import { MIGRATION_FOOTPRINTS } from '../../migrations/lib/migration-footprints';
import { RELATION_KINDS, type ObjectKind, type Query, type SchemaSnapshot, snapshotSchema } from '../../migrations/lib/schema-snapshot';
import { journalEntries } from '../../migrations/lib/undo-journal';
import { ID_TYPES } from '../shared/config';

export const MINIMUM_POSTGRES_MAJOR = 14; // CREATE OR REPLACE TRIGGER

/**
 * The values the routing compares these columns with and writes. A row holding another (or NULL)
 * is a problem; so is a column that cannot hold them all. (Messages from senders other than buyers
 * are not routed: their rows may say what they like.)
 */
export const ROUTING_VALUES = {
  'sellers.role': ['owner', 'admin', 'member'],
  // pending_reassignment: a listing nobody in its company can take over (migration 1 allows it).
  'listed_cars.status': ['draft', 'active', 'sold', 'archived', 'pending_reassignment'],
  'conversations.status': ['open', 'closed'],
  'messages.sender_type': ['buyer', 'seller'],
} as const;

/** Ids the messaging objects store, and the columns that refer to each. */
const ID_REFERENCES: Record<string, readonly string[]> = {
  'companies.id': ['sellers.company_id', 'listed_cars.company_id'],
  'sellers.id': ['listed_cars.seller_id', 'conversations.seller_id', 'messages.recipient_id'],
  'buyers.id': ['conversations.buyer_id', 'messages.sender_id'],
  'listed_cars.id': ['conversations.listing_id'],
  'conversations.id': ['messages.conversation_id'],
};
/** The domain that records each id's type, by the id's column. */
const ID_DOMAINS: Record<string, string> = Object.fromEntries(ID_DOMAIN_TABLES.map(({ domain, table }) => [`${table}.id`, domain]));

/** What the API inserts, leaving every other column of the row to its default (or to our triggers). */
const INSERTED_COLUMNS: Record<string, readonly string[]> = {
  conversations: ['listing_id', 'buyer_id', 'seller_id'],
  messages: ['conversation_id', 'sender_type', 'sender_id', 'body', 'recipient_id'],
};

/** From this many rows, a scan of every row per routed listing is too slow to leave to later. */
export const BIG_TABLE_ROWS = 10_000;

export interface PreflightProblem {
  /** What is wrong, and where. */
  readonly problem: string;
  /** What the migrations or the routing need instead. */
  readonly because?: string;
  /** SQL that lists the rows or objects concerned. */
  readonly find?: string;
  /** SQL that fixes it, where one statement does. */
  readonly fix?: string;
}

export interface PreflightReport {
  readonly postgresVersion: string;
  readonly baseTables: 'present' | 'absent, to be created';
  /** Empty: the migrations may run. */
  readonly problems: readonly PreflightProblem[];
  /** Worth knowing, not in the way (an index a small table lacks, a migration carried on). */
  readonly notes: readonly string[];
}

export interface PreflightOptions {
  /** The base tables may be absent altogether: the baseline migration creates them. */
  readonly createBaseSchema?: boolean;
  /**
   * The migrations recorded as applied. Unset: only the server and the base tables and columns
   * are checked (what the runner says as soon as it connects).
   */
  readonly applied?: readonly string[];
}

/** A run refused by the pre-flight: nothing was changed. */
export class PreflightRefusal extends Error {
  constructor(readonly report: PreflightReport) {
    super(formatPreflightProblems(report.problems));
    this.name = 'PreflightRefusal';
  }
}

const quoted = (values: readonly string[]) => values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', ');
const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
const list = (items: readonly string[]) => (items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`);

/**
 * The report as the runner prints it: every problem, numbered, with its queries. A single problem
 * comes first, as the one line a deploy's failure reason starts with.
 */
export function formatPreflightProblems(problems: readonly PreflightProblem[]): string {
  const details = (p: PreflightProblem) => [
    ...(p.because ? [`   ${p.because}`] : []),
    ...(p.find ? [`   Find: ${p.find}`] : []),
    ...(p.fix ? [`   Fix:  ${p.fix}`] : []),
  ];
  if (problems.length === 1) return [problems[0]!.problem, ...details(problems[0]!), 'Nothing was changed: fix it and run again.'].join('\n');
  const lines = [`The pre-flight found ${plural(problems.length, 'problem')}. Nothing was changed: fix them and run again.`];
  for (const [index, p] of problems.entries()) lines.push('', `${index + 1}. ${p.problem}`, ...details(p));
  return lines.join('\n');
}

interface ColumnInfo {
  readonly table: string;
  readonly column: string;
  /** format_type: `uuid`, `bigint`, `character varying(255)`, `listing_status`. */
  readonly type: string;
  readonly typtype: string;
  readonly enumLabels: readonly string[];
  /** character varying's length limit, if any. */
  readonly maxLength: number | null;
  readonly notNull: boolean;
  readonly hasDefault: boolean;
}

/**
 * The base tables' columns, from the catalog alone: no lock on the tables (a default's text,
 * which would take one, is read later: this runs before the runner knows no one else is at work).
 */
async function baseColumns(query: Query): Promise<Map<string, ColumnInfo>> {
  const rows = await query<{
    table_name: string;
    column_name: string;
    type: string;
    typtype: string;
    labels: string[];
    max_length: number | null;
    not_null: boolean;
    has_default: boolean;
  }>(
    `SELECT c.relname AS table_name, a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS type, t.typtype,
            coalesce((SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '{}') AS labels,
            information_schema._pg_char_max_length(a.atttypid, a.atttypmod) AS max_length,
            a.attnotnull AS not_null, (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS has_default
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_type t ON t.oid = a.atttypid
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND c.relname = ANY($1)
        AND a.attnum > 0 AND NOT a.attisdropped`,
    [[...BASE_TABLES]],
  );
  return new Map(
    rows.map((r) => [
      `${r.table_name}.${r.column_name}`,
      {
        table: r.table_name,
        column: r.column_name,
        type: r.type,
        typtype: r.typtype,
        enumLabels: r.labels,
        maxLength: r.max_length,
        notNull: r.not_null,
        hasDefault: r.has_default,
      },
    ]),
  );
}

const COLUMNS_QUERY = (columns: readonly string[]) =>
  `SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, column_default FROM information_schema.columns ` +
  `WHERE table_schema = current_schema() AND table_name || '.' || column_name IN (${quoted(columns)}) ORDER BY 1, 2;`;

/**
 * The server, the base tables and their columns: what the runner reports as soon as it connects.
 * `final`: nothing more can be checked (an old server, tables missing, or none yet to check).
 */
async function checkBase(query: Query, createBaseSchema: boolean) {
  const [server] = await query<{ number: string; version: string }>(
    `SELECT current_setting('server_version_num') AS number, current_setting('server_version') AS version`,
  );
  const version = server!.version;
  const problems: PreflightProblem[] = [];
  if (Math.floor(Number(server!.number) / 10000) < MINIMUM_POSTGRES_MAJOR) {
    problems.push({ problem: `PostgreSQL ${version} is too old: ${MINIMUM_POSTGRES_MAJOR} or newer is required.` });
    return { version, baseTables: 'present' as const, problems, columns: new Map<string, ColumnInfo>(), final: true };
  }
  const columns = await baseColumns(query);
  const missingTables = BASE_TABLES.filter((table) => ![...columns.values()].some((c) => c.table === table));
  if (missingTables.length === BASE_TABLES.length && createBaseSchema) {
    return { version, baseTables: 'absent, to be created' as const, problems, columns, final: true };
  }
  if (missingTables.length > 0) {
    problems.push({
      problem:
        `Base tables missing: ${missingTables.join(', ')}. The messaging migrations extend an existing marketplace ` +
        'database: check that DATABASE_URL points at it' +
        (missingTables.length === BASE_TABLES.length ? ', or pass --with-base-schema to create an empty marketplace schema.' : '.'),
    });
    return { version, baseTables: 'present' as const, problems, columns, final: true };
  }
  const missingColumns = Object.entries(REQUIRED_BASE_COLUMNS).flatMap(([table, names]) =>
    names.map((c) => `${table}.${c}`).filter((column) => !columns.has(column)),
  );
  if (missingColumns.length > 0) {
    problems.push({
      problem: `Base columns missing: ${missingColumns.join(', ')}.`,
      because: 'The messaging migrations and the routing read and write them.',
      find: COLUMNS_QUERY(missingColumns),
    });
  }
  return { version, baseTables: 'present' as const, problems, columns, final: false };
}

/** The migrating user may change the base tables and create objects in the schema. */
async function checkPrivileges(query: Query): Promise<PreflightProblem[]> {
  const rows = await query<{ user_name: string; schema: string; may_create: boolean; not_owned: { table: string; owner: string }[] }>(
    `SELECT current_user AS user_name, current_schema() AS schema, has_schema_privilege(current_schema(), 'CREATE') AS may_create,
            coalesce((SELECT json_agg(json_build_object('table', c.relname, 'owner', pg_get_userbyid(c.relowner)) ORDER BY c.relname)
                        FROM pg_class c
                       WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND c.relname = ANY($1)
                         AND NOT pg_has_role(current_user, c.relowner, 'USAGE')), '[]'::json) AS not_owned`,
    [[...BASE_TABLES]],
  );
  const { user_name: user, schema, may_create: mayCreate, not_owned: notOwned } = rows[0]!;
  const problems: PreflightProblem[] = [];
  if (!mayCreate) {
    problems.push({
      problem: `The database user ${user} may not create objects in schema ${schema}.`,
      because: 'The migrations create tables, views, functions and triggers there.',
      fix: `GRANT CREATE ON SCHEMA ${schema} TO ${user};`,
    });
  }
  if (notOwned.length > 0) {
    const owners = [...new Set(notOwned.map((t) => t.owner))];
    problems.push({
      problem: `The database user ${user} does not own ${list(notOwned.map((t) => `${t.table} (owner ${t.owner})`))}.`,
      because: "Adding columns, constraints and triggers to a table takes its owner, or a member of the owner's role.",
      find: `SELECT relname, pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relname IN (${quoted(notOwned.map((t) => t.table))});`,
      fix: `GRANT ${owners.join(', ')} TO ${user};`,
    });
  }
  return problems;
}

/**
 * Ids of a type the messaging objects take (uuid, bigint or integer), columns of the type of the id
 * they refer to, and, where the id domains exist already (an earlier install), the same types.
 */
async function checkIdTypes(query: Query, columns: Map<string, ColumnInfo>): Promise<PreflightProblem[]> {
  const problems: PreflightProblem[] = [];
  const ids = Object.keys(ID_REFERENCES).filter((id) => columns.has(id));
  const typeOf = (column: string) => columns.get(column)!.type;
  const unsupported = ids.filter((id) => !(ID_TYPES as readonly string[]).includes(typeOf(id)));
  if (unsupported.length > 0) {
    problems.push({
      problem: `Ids of a type the messaging system does not take: ${list(unsupported.map((id) => `${id} is ${typeOf(id)}`))}.`,
      because: `The messaging tables, functions and triggers take company, seller, buyer, listing and conversation ids of type ${ID_TYPES.join(', ')}.`,
      find: COLUMNS_QUERY(ids),
    });
  }
  // One type for all: the API takes and answers ids in one form (EMS_ID_TYPE), and messages.sender_id
  // holds a buyer's id or a seller's.
  const allIds = [...ids, ...(columns.has('messages.id') ? ['messages.id'] : [])];
  const types = new Set(allIds.map(typeOf));
  if (types.size > 1) {
    problems.push({
      problem: `Ids of more than one type: ${list(allIds.map((id) => `${id} is ${typeOf(id)}`))}.`,
      because: 'The API takes and answers every id in one form (EMS_ID_TYPE), and messages.sender_id holds a buyer\'s id or a seller\'s: they must have one type.',
      find: COLUMNS_QUERY(allIds),
    });
  }
  const mismatched = Object.entries(ID_REFERENCES).flatMap(([id, references]) =>
    references
      .filter((reference) => columns.has(id) && columns.has(reference) && typeOf(reference) !== typeOf(id))
      .map((reference) => ({ reference, id })),
  );
  if (mismatched.length > 0) {
    problems.push({
      problem: `Columns that refer to ids have another type than the ids: ${list(
        mismatched.map(({ reference, id }) => `${reference} is ${typeOf(reference)} but ${id} is ${typeOf(id)}`),
      )}.`,
      because: 'The routing compares and copies them: each must have the type of the id it refers to.',
      find: COLUMNS_QUERY([...new Set(mismatched.flatMap(({ reference, id }) => [reference, id]))]),
    });
  }
  const domainsFind = `SELECT typname, format_type(typbasetype, typtypmod) AS recorded_type FROM pg_type WHERE typnamespace = current_schema()::regnamespace AND typtype = 'd' AND typname IN (${quoted(Object.values(ID_DOMAINS))});`;
  const recorded = new Map((await query<{ typname: string; recorded_type: string }>(domainsFind.replace(/;$/, ''))).map((r) => [r.typname, r.recorded_type]));
  const changed = ids.filter((id) => recorded.has(ID_DOMAINS[id]!) && recorded.get(ID_DOMAINS[id]!) !== typeOf(id));
  if (changed.length > 0) {
    problems.push({
      problem: `Ids changed type since the messaging system recorded them: ${list(
        changed.map((id) => `${id} is ${typeOf(id)} but ${ID_DOMAINS[id]} is ${recorded.get(ID_DOMAINS[id]!)}`),
      )}.`,
      because: 'The messaging columns and functions were made for the recorded types: roll the messaging migrations back (npm run migrate:messaging -- --rollback) before changing the ids, then migrate again.',
      find: domainsFind,
    });
  }
  return problems;
}

/** Status, role and sender columns: text the routing can compare and write its values into. */
function checkValueColumnTypes(columns: Map<string, ColumnInfo>): PreflightProblem[] {
  const problems: PreflightProblem[] = [];
  for (const [name, values] of Object.entries(ROUTING_VALUES)) {
    const column = columns.get(name);
    if (!column) continue;
    const [table, columnName] = name.split('.') as [string, string];
    if (column.typtype === 'e') {
      const lacking = values.filter((v) => !column.enumLabels.includes(v));
      if (lacking.length > 0) {
        problems.push({
          problem: `${name} is the enum ${column.type}, which lacks ${quoted(lacking)}.`,
          because: `The routing compares ${name} with, and writes, ${quoted(values)}.`,
          find: `SELECT enumlabel FROM pg_enum WHERE enumtypid = '${column.type}'::regtype ORDER BY enumsortorder;`,
          fix: lacking.map((v) => `ALTER TYPE ${column.type} ADD VALUE ${quoted([v])};`).join(' '),
        });
      }
    } else if (column.type === 'text' || column.type.startsWith('character varying')) {
      const longest = values.reduce((a, b) => (b.length > a.length ? b : a));
      if (column.maxLength !== null && column.maxLength < longest.length) {
        problems.push({
          problem: `${name} is ${column.type}: too short for '${longest}' (${longest.length} characters).`,
          because: `The routing writes ${quoted(values)} there.`,
          find: COLUMNS_QUERY([name]),
          fix: `ALTER TABLE ${table} ALTER COLUMN ${columnName} TYPE text;`,
        });
      }
    } else {
      problems.push({
        problem: `${name} is ${column.type}, not text.`,
        because: `The routing compares ${name} with, and writes, ${quoted(values)}.`,
        find: COLUMNS_QUERY([name]),
      });
    }
  }
  return problems;
}

/** Rows the API and the routing write: NULL where nobody can take a conversation over, defaults for the rest. */
async function checkWritableRows(query: Query, columns: Map<string, ColumnInfo>): Promise<PreflightProblem[]> {
  const problems: PreflightProblem[] = [];
  if (columns.get('conversations.seller_id')?.notNull) {
    problems.push({
      problem: 'conversations.seller_id does not allow NULL.',
      because: "A conversation nobody in the listing's company can take over is left unassigned (seller_id NULL) until its next buyer message.",
      find: COLUMNS_QUERY(['conversations.seller_id']),
      fix: 'ALTER TABLE conversations ALTER COLUMN seller_id DROP NOT NULL;',
    });
  }
  const [status] = await query<{ value: string | null }>(
    `SELECT pg_get_expr(d.adbin, d.adrelid) AS value
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = (quote_ident(current_schema()) || '.conversations')::regclass AND a.attname = 'status'`,
  );
  if (status && !/^'open'::/.test(status.value ?? '')) {
    problems.push({
      problem: `conversations.status defaults to ${status.value ?? 'nothing'}, not 'open'.`,
      because: 'The API opens a conversation without naming its status: it must start open to be routed.',
      find: COLUMNS_QUERY(['conversations.status']),
      fix: `ALTER TABLE conversations ALTER COLUMN status SET DEFAULT 'open';`,
    });
  }
  const withoutDefault = Object.entries(INSERTED_COLUMNS).flatMap(([table, inserted]) =>
    [...columns.values()]
      .filter((c) => c.table === table && c.notNull && !c.hasDefault && !inserted.includes(c.column))
      .map((c) => `${c.table}.${c.column}`),
  );
  if (withoutDefault.length > 0) {
    problems.push({
      problem: `NOT NULL columns without a default: ${withoutDefault.join(', ')}.`,
      because:
        `The API inserts conversations (${INSERTED_COLUMNS.conversations!.slice(0, 2).join(', ')}) and messages ` +
        `(${INSERTED_COLUMNS.messages!.slice(0, 4).join(', ')}) and leaves every other column to its default.`,
      find: COLUMNS_QUERY(withoutDefault),
    });
  }
  return problems;
}

/** Whose is an existing object named as a pending migration would name its own. */
interface Ownership {
  /** Migrations whose up() finished (their checksum is recorded) though knex did not record them. */
  readonly finished: ReadonlySet<string>;
  readonly journal: Map<string, { before: SchemaSnapshot }>;
}

const KIND_WORDS: Record<ObjectKind, string> = {
  table: 'relation',
  view: 'relation',
  index: 'relation',
  sequence: 'relation',
  column: 'column',
  constraint: 'constraint',
  trigger: 'trigger',
  function: 'function',
  type: 'type',
};

function keyName(key: string): { kind: ObjectKind; name: string } {
  const colon = key.indexOf(':');
  return { kind: key.slice(0, colon) as ObjectKind, name: key.slice(colon + 1) };
}

/** Objects of the marketplace that have a name a pending migration gives its own. */
function checkNamesTaken(snapshot: SchemaSnapshot, pending: readonly string[], ownership: Ownership): PreflightProblem[] {
  const relationNames = (s: SchemaSnapshot) =>
    new Set(Object.values(s).filter((o) => RELATION_KINDS.includes(o.kind)).map((o) => (o as { name: string }).name));
  const relations = relationNames(snapshot);
  // A function is taken by its name whatever its arguments: the migrations' own take the marketplace's
  // id types (a uuid function of yours clashes with theirs on an integer marketplace too), and they are
  // dropped by name.
  const functionName = (key: string) => key.slice(0, key.indexOf('('));
  const exists = (key: string, s: SchemaSnapshot, names: Set<string>) => {
    const { kind, name } = keyName(key);
    if (RELATION_KINDS.includes(kind)) return names.has(name);
    if (kind === 'function') return Object.keys(s).some((k) => k.startsWith('function:') && functionName(k) === functionName(key));
    return key in s;
  };
  const taken = new Map<string, string[]>();
  for (const migration of pending) {
    const footprint = MIGRATION_FOOTPRINTS[migration];
    if (!footprint || ownership.finished.has(migration)) continue;
    const started = ownership.journal.get(migration);
    const startedRelations = started ? relationNames(started.before) : undefined;
    const newTables = new Set(footprint.created.filter((k) => k.startsWith('table:')).map((k) => keyName(k).name));
    for (const key of footprint.created) {
      const { kind, name } = keyName(key);
      // Sequences of identity columns are named by PostgreSQL, which picks a free name.
      if (kind === 'sequence') continue;
      // What belongs to a new table is reported with the table.
      if ((kind === 'column' || kind === 'constraint' || kind === 'trigger') && newTables.has(name.split('.')[0]!)) continue;
      if (!exists(key, snapshot, relations)) continue;
      // Made by an earlier attempt of this migration, which the journal says was not there before it.
      if (started && !exists(key, started.before, startedRelations!)) continue;
      const word = KIND_WORDS[kind];
      taken.set(word, [...(taken.get(word) ?? []), kind === 'function' ? name.slice(0, name.indexOf('(')) : name]);
    }
  }
  const problems: PreflightProblem[] = [];
  const because =
    'The migrations would take it for their own (or replace it) and a rollback would drop it: rename or drop yours. ' +
    '(Left by a run of an earlier version of these migrations that failed part-way, before failures were undone? Drop it: the migration makes it again.)';
  const finds: Record<string, (names: string[]) => string> = {
    relation: (names) =>
      `SELECT relname, relkind FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relname IN (${quoted(names)});`,
    column: (names) => COLUMNS_QUERY(names),
    constraint: (names) =>
      `SELECT conrelid::regclass AS table_name, conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = current_schema()::regnamespace ` +
      `AND conrelid::regclass::text || '.' || conname IN (${quoted(names)});`,
    trigger: (names) =>
      `SELECT tgrelid::regclass AS table_name, tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text || '.' || tgname IN (${quoted(names)});`,
    function: (names) =>
      `SELECT oid::regprocedure FROM pg_proc WHERE pronamespace = current_schema()::regnamespace AND proname IN (${quoted(names)});`,
    type: (names) => `SELECT typname FROM pg_type WHERE typnamespace = current_schema()::regnamespace AND typname IN (${quoted(names)});`,
  };
  for (const word of ['relation', 'column', 'constraint', 'trigger', 'function', 'type']) {
    const names = taken.get(word);
    if (!names) continue;
    problems.push({
      problem: `${word === 'relation' ? 'Tables, views or indexes' : `${word[0]!.toUpperCase()}${word.slice(1)}s`} of yours have names the migrations use: ${names.join(', ')}.`,
      because,
      find: finds[word]!(names),
    });
  }
  return problems;
}

/**
 * Whether a CHECK on listed_cars.status refuses 'pending_reassignment'. A check on that (text) column alone
 * is evaluated with the value in place of the column (so `status <> 'pending_reassignment'` is
 * caught, not only lists that leave it out); a check on more columns, or one that cannot be
 * evaluated on its own, is judged by whether its text names the value.
 */
async function refusesParking(query: Query, check: { values: readonly string[]; expression: string; statusOnly: boolean }): Promise<boolean> {
  const guess = !check.values.includes('pending_reassignment');
  if (!check.statusOnly) return guess;
  // The column's name replaced outside string literals ('...' with '' escapes) and quoted identifiers.
  const substituted = check.expression
    .split(/('(?:[^']|'')*'|"(?:[^"]|"")*")/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/\bstatus\b/g, "'pending_reassignment'::text")))
    .join('');
  try {
    const [row] = await query<{ allowed: boolean | null }>(`SELECT (${substituted}) AS allowed`);
    // A CHECK lets NULL pass.
    return row?.allowed === false;
  } catch {
    return guess;
  }
}

/** CHECK constraints on listed_cars.status: migration 1 widens listed_cars_status_check, no other may refuse what the routing writes. */
async function checkListingStatusConstraints(query: Query): Promise<PreflightProblem[]> {
  const rows = await query<{ name: string; definition: string; expression: string; status_only: boolean }>(
    `SELECT k.conname AS name, pg_get_constraintdef(k.oid) AS definition, pg_get_expr(k.conbin, k.conrelid) AS expression,
            k.conkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE attrelid = k.conrelid AND attname = 'status')]
              AND (SELECT atttypid FROM pg_attribute WHERE attrelid = k.conrelid AND attname = 'status')
                  IN ('text'::regtype, 'character varying'::regtype, 'character'::regtype) AS status_only
       FROM pg_constraint k
      WHERE k.conrelid = (quote_ident(current_schema()) || '.listed_cars')::regclass AND k.contype = 'c'
        AND (SELECT attnum FROM pg_attribute WHERE attrelid = k.conrelid AND attname = 'status') = ANY (k.conkey)`,
  );
  const problems: PreflightProblem[] = [];
  const known = ROUTING_VALUES['listed_cars.status'] as readonly string[];
  const find = `SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'listed_cars'::regclass AND contype = 'c';`;
  for (const { name, definition, expression, status_only: statusOnly } of rows) {
    const values = (definition.match(/'((?:[^']|'')*)'/g) ?? []).map((v) => v.slice(1, -1).replace(/''/g, "'"));
    if (name === 'listed_cars_status_check') {
      const inList = /^CHECK \(+\(?status\)?(::text)? = ANY \(/.test(definition) || /^CHECK \(+status IN \(/.test(definition);
      const unknown = values.filter((v) => !known.includes(v));
      if (!inList || unknown.length > 0) {
        problems.push({
          problem: `listed_cars_status_check is yours, not a list of the statuses the routing knows: ${definition}.`,
          because: `Migration 1 replaces it with CHECK (status IN (${quoted(known)}))${unknown.length ? `, which refuses ${quoted(unknown)}` : ''}, and a rollback would not bring yours back.`,
          find,
        });
      }
    } else if (await refusesParking(query, { values, expression, statusOnly })) {
      problems.push({
        problem: `The CHECK constraint ${name} on listed_cars.status would refuse 'pending_reassignment': ${definition}.`,
        because: "The routing parks a listing nobody in its company can take over as 'pending_reassignment'.",
        find,
        fix: `ALTER TABLE listed_cars DROP CONSTRAINT ${name};`,
      });
    }
  }
  return problems;
}

/** The rows the migrations and the routing cannot handle: a listing without a seller, references to nobody, values the routing does not know. */
async function checkRows(query: Query, columns: Map<string, ColumnInfo>): Promise<PreflightProblem[]> {
  const problems: PreflightProblem[] = [];
  const [listings] = await query<{ without_seller: number }>(`SELECT count(*)::int AS without_seller FROM listed_cars WHERE seller_id IS NULL`);
  if (listings!.without_seller > 0) {
    problems.push({
      problem: `listed_cars.seller_id is NULL in ${plural(listings!.without_seller, 'listing')}.`,
      because: 'Every listing needs its seller: migration 2 makes the seller its owner and original seller ("cannot update NULL values").',
      find: 'SELECT id FROM listed_cars WHERE seller_id IS NULL;',
    });
  }

  // A reference to nobody fails the foreign keys the migrations add, unless a valid key of yours already rules it out.
  const danglers = [
    { table: 'listed_cars', column: 'seller_id', refers: 'sellers', rows: 'listing', target: 'seller' },
    { table: 'sellers', column: 'company_id', refers: 'companies', rows: 'seller', target: 'company' },
  ];
  for (const d of danglers) {
    const referenceType = columns.get(`${d.table}.${d.column}`)?.type;
    if (referenceType !== columns.get(`${d.refers}.id`)?.type) continue; // reported as a type mismatch
    const [guarded] = await query<{ guarded: boolean }>(
      `SELECT EXISTS (
         SELECT 1 FROM pg_constraint k
          WHERE k.conrelid = (quote_ident(current_schema()) || '.' || $1)::regclass AND k.contype = 'f' AND k.convalidated
            AND k.confrelid = (quote_ident(current_schema()) || '.' || $2)::regclass
            AND k.conkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE attrelid = k.conrelid AND attname = $3)]
            AND k.confkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE attrelid = k.confrelid AND attname = 'id')]) AS guarded`,
      [d.table, d.refers, d.column],
    );
    if (guarded!.guarded) continue;
    const condition = `x.${d.column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${d.refers} r WHERE r.id = x.${d.column})`;
    const [{ n } = { n: 0 }] = await query<{ n: number }>(`SELECT count(*)::int AS n FROM ${d.table} x WHERE ${condition}`);
    if (n > 0) {
      problems.push({
        problem: `${d.table}.${d.column} names a ${d.target} that does not exist in ${plural(n, d.rows)}.`,
        because: `The migrations add foreign keys from what they derive from ${d.table}.${d.column} to ${d.refers}.id.`,
        find: `SELECT x.id, x.${d.column} FROM ${d.table} x WHERE ${condition};`,
      });
    }
  }

  for (const [name, values] of Object.entries(ROUTING_VALUES)) {
    if (!columns.has(name) || name === 'messages.sender_type') continue; // senders other than buyers are not routed: any value will do
    const [table, column] = name.split('.') as [string, string];
    const condition = `${column} IS NULL OR ${column}::text NOT IN (${quoted(values)})`;
    const found = await query<{ value: string | null; n: number }>(
      `SELECT ${column}::text AS value, count(*)::int AS n FROM ${table} WHERE ${condition} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20`,
    );
    if (found.length > 0) {
      problems.push({
        problem: `${name} holds values the routing does not know: ${found
          .map((f) => `${f.value === null ? 'NULL' : `'${f.value}'`} (${plural(f.n, 'row')})`)
          .join(', ')}.`,
        because: `The routing knows ${quoted(values)}.`,
        find: `SELECT id, ${column} FROM ${table} WHERE ${condition};`,
      });
    }
  }
  return problems;
}

/** Indexes the routing needs on the marketplace's own columns (the migrations build their own). */
async function checkIndexes(query: Query): Promise<{ problems: PreflightProblem[]; notes: string[] }> {
  const needed = [
    {
      table: 'conversations',
      column: 'listing_id',
      because: "Every hand-over of a listing and every buyer message looks up the listing's conversations.",
    },
  ];
  const problems: PreflightProblem[] = [];
  const notes: string[] = [];
  for (const index of needed) {
    const [row] = await query<{ indexed: boolean; estimate: number }>(
      `SELECT EXISTS (SELECT 1 FROM pg_index x
                       WHERE x.indrelid = c.oid AND x.indisvalid AND x.indpred IS NULL
                         AND x.indkey[0] = (SELECT attnum FROM pg_attribute WHERE attrelid = c.oid AND attname = $2)) AS indexed,
              c.reltuples::bigint AS estimate
         FROM pg_class c WHERE c.oid = (quote_ident(current_schema()) || '.' || $1)::regclass`,
      [index.table, index.column],
    );
    if (row!.indexed) continue;
    // Never analyzed (-1): count.
    const rows =
      row!.estimate >= 0 ? Number(row!.estimate) : (await query<{ n: number }>(`SELECT count(*)::int AS n FROM ${index.table}`))[0]!.n;
    const fix = `CREATE INDEX CONCURRENTLY ${index.table}_${index.column}_idx ON ${index.table} (${index.column});`;
    const problem = `${index.table} has no index on ${index.column} (${rows === 0 ? 'empty' : `about ${plural(rows, 'row')}`}).`;
    if (rows >= BIG_TABLE_ROWS) {
      problems.push({
        problem,
        because: `${index.because} Without the index each scans the whole table.`,
        find: `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = '${index.table}';`,
        fix,
      });
    } else notes.push(`${problem} Fine while it is small; before it grows: ${fix}`);
  }
  return { problems, notes };
}

/**
 * Everything the migrations rely on. With `applied` set and messaging migrations still to apply,
 * the whole list; otherwise the server and the base tables and columns alone.
 */
export async function runPreflight(query: Query, options: PreflightOptions = {}): Promise<PreflightReport> {
  const base = await checkBase(query, options.createBaseSchema ?? false);
  const report = (problems: PreflightProblem[], notes: string[] = []): PreflightReport => ({
    postgresVersion: base.version,
    baseTables: base.baseTables,
    problems,
    notes,
  });
  if (base.final) return report(base.problems);
  const pending = options.applied ? MESSAGING_MIGRATION_NAMES.filter((name) => !options.applied!.includes(name)) : [];
  if (pending.length === 0) return report(base.problems);

  const { columns } = base;
  const journal = await journalEntries(query);
  const [checksums] = await query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [CHECKSUM_TABLE]);
  const recorded = checksums!.present ? (await query<{ name: string }>(`SELECT name FROM ${CHECKSUM_TABLE}`)).map((r) => r.name) : [];
  const snapshot = await snapshotSchema(query);
  const notes = [...journal.values()]
    .filter((entry) => pending.includes(entry.name))
    .map((entry) => `${entry.name} stopped part-way (started ${entry.startedAt}): this run carries it on.`);
  const problems = [
    ...base.problems,
    ...(await checkPrivileges(query)),
    ...(await checkIdTypes(query, columns)),
    ...checkValueColumnTypes(columns),
    ...(await checkWritableRows(query, columns)),
    ...checkNamesTaken(snapshot, pending, { finished: new Set(recorded.filter((name) => pending.includes(name))), journal }),
    ...(pending.includes(MESSAGING_MIGRATION_NAMES[0]!) && columns.has('listed_cars.status') ? await checkListingStatusConstraints(query) : []),
  ];
  // The rows and indexes are read by the columns above: with one missing, that is the problem to fix first.
  if (base.problems.length === 0) {
    problems.push(...(await checkRows(query, columns)));
    const indexes = await checkIndexes(query);
    problems.push(...indexes.problems);
    notes.push(...indexes.notes);
  }
  return report(problems, notes);
}
