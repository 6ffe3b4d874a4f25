/**
 * `npm run migrate:messaging -- --dry-run`: what the runner would do, on the database as it is,
 * changing nothing. The guide's pre-migration checklist asks for one before a production run.
 *
 * It runs the runner's pre-flight (./preflight.ts) and says which migrations are pending, in order,
 * what each creates, changes and drops (migrations/lib/migration-footprints.ts), and the steps whose
 * time grows with the data (migrations/lib/long-steps.ts): the backfills with the rows they would
 * change, the concurrent index builds with the size of the table they scan, the hand-overs of what
 * existing data holds against the routing rule.
 *
 * Changing nothing is the server's guarantee, not only ours: the session is read-only
 * (default_transaction_read_only), so any write or DDL would fail rather than happen. It does not
 * use knex, which creates its bookkeeping tables before it reads them, and it does not take the
 * runner's lock: every lock it takes is the ACCESS SHARE of a plain SELECT, which blocks no read or
 * write of the application (only DDL, for the few milliseconds a catalog read lasts).
 */
import pg from 'pg';
import { BASE_TABLES } from '../../migrations/20250101000000_base_marketplace_schema';
import { MESSAGING_MIGRATION_NAMES, MIGRATIONS } from '../../migrations';
import { MIGRATION_LONG_STEPS, type DataStep } from '../../migrations/lib/long-steps';
import { isMessagingFunction, MIGRATION_FOOTPRINTS } from '../../migrations/lib/migration-footprints';
import type { Query } from '../../migrations/lib/schema-snapshot';
import { journalEntries } from '../../migrations/lib/undo-journal';
import { MIGRATIONS_TABLE } from '../database/knex-config';
import { connectionFailureReason, databaseTarget, DatabaseUnreachableError } from '../database/reachability';
import { migrationSettings } from '../shared/config';
import { formatPreflightProblems, runPreflight, type PreflightReport } from './preflight';
import { RUNNER_LOCK_KEY } from './runner';

export const DRY_RUN_APPLICATION_NAME = 'ems-migration-dry-run';

/**
 * How long a read may wait for a lock before the dry run gives up: only DDL conflicts with its
 * reads, and a dry run that waits behind a migration would report a schema about to change.
 */
const LOCK_TIMEOUT_MS = 5000;

/** A read of the dry run waited too long behind someone's DDL: nothing was changed, run it again later. */
export class DryRunLockTimeoutError extends Error {
  constructor(waitedMs: number, options: { cause: unknown }) {
    super(
      `The dry run waited ${waitedMs / 1000} s for a table someone is changing (DDL holds its lock: a migration, a VACUUM FULL, ...) ` +
        'and stopped. Nothing was changed: run it again when that has finished.',
      options,
    );
    this.name = 'DryRunLockTimeoutError';
  }
}

export interface PlannedStep {
  readonly kind: DataStep['kind'];
  /** The table it works through (a hand-over: the listings, and the conversations too). */
  readonly table: string;
  /** The index a build makes; the columns a backfill fills. */
  readonly name: string;
  /**
   * A backfill: the rows it would change. An index build: the rows of the table it scans. A
   * hand-over: the active listings it would hand over.
   */
  readonly rows: number;
  /** `counted`: an exact count now; `estimated`: pg_class.reltuples (index builds of analyzed tables). */
  readonly rowsFrom: 'counted' | 'estimated';
  /** A hand-over: the open conversations it would hand over. */
  readonly conversations?: number;
  /** A hand-over of inactive members' holdings: how many members hold them. */
  readonly members?: number;
  /** An index build: the size of the table on disk (heap), which the build reads twice. */
  readonly tableBytes?: number;
  /** An index build: the table does not exist yet (an earlier pending migration creates it, small). */
  readonly tableCreatedBefore?: boolean;
  /** An index build: an earlier, interrupted run already built it. */
  readonly alreadyBuilt?: boolean;
  /** The step in one line (after its kind). */
  readonly description: string;
}

export interface PlannedMigration {
  readonly name: string;
  /** An earlier run started it and stopped part-way (the undo journal's start time): this run carries it on. */
  readonly carriesOn?: string;
  /** Keys of migrations/lib/schema-snapshot.ts: `column:sellers.member_status`, `function:...`. */
  readonly creates: readonly string[];
  readonly changes: readonly string[];
  readonly drops: readonly string[];
  readonly steps: readonly PlannedStep[];
}

export interface DryRunReport {
  readonly dryRun: true;
  /** The migrations would run: the pre-flight finds nothing in the way. */
  readonly ok: boolean;
  readonly postgresVersion: string;
  readonly baseTables: PreflightReport['baseTables'];
  readonly alreadyApplied: readonly string[];
  /** In the order they would be applied. */
  readonly pending: readonly PlannedMigration[];
  readonly preflight: Pick<PreflightReport, 'problems' | 'notes'>;
  /** Worth knowing before running: another runner at work, companies nobody could take over for. */
  readonly notes: readonly string[];
  readonly batchSize: number;
  readonly failure?: { readonly stage: 'preflight'; readonly message: string };
  readonly totalMs: number;
}

export interface DryRunOptions {
  readonly connectionString: string;
  /** As the runner's option: the base tables may be absent, the baseline would create them. */
  readonly createBaseSchema?: boolean;
  /** Longest wait for a lock, per read (default 5 s). */
  readonly lockTimeoutMs?: number;
}

const count = (n: number) => n.toLocaleString('en-US');
const plural = (n: number, one: string, many = `${one}s`) => `${count(n)} ${n === 1 ? one : many}`;

function size(bytes: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** What the catalog says of the tables and columns the steps read (a pending migration may add them). */
async function columnsPresent(query: Query): Promise<Set<string>> {
  const rows = await query<{ name: string }>(
    `SELECT c.relname || '.' || a.attname AS name FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`,
  );
  return new Set(rows.map((r) => r.name));
}

async function one<T extends object>(query: Query, sql: string, params?: readonly unknown[]): Promise<T> {
  return (await query<T>(sql, params))[0]!;
}

interface StepContext {
  readonly query: Query;
  readonly columns: Set<string>;
  readonly baseTablesPresent: boolean;
  /** Names of the migrations pending before the one planned. */
  readonly pendingBefore: readonly string[];
  readonly batchSize: number;
}

/** The routing rule of migrations/sql/routing/ems_holder_rule.sql, on the columns there are now. */
function holderRule(columns: Set<string>, holder: string, listing: string): string {
  const status = columns.has('sellers.member_status') ? `${holder}.member_status` : `'active'`;
  return `(${holder}.id IS NOT NULL AND ${status} = 'active' AND CASE WHEN ${listing}.company_id IS NULL THEN ${holder}.id = ${listing}.seller_id
            ELSE ${holder}.company_id IS NOT DISTINCT FROM ${listing}.company_id END)`;
}

async function planBackfill(step: Extract<DataStep, { kind: 'backfill' }>, c: StepContext): Promise<PlannedStep> {
  const columnsThere = step.conditionColumns.every((column) => c.columns.has(`${step.table}.${column}`));
  // Before the migration adds its columns, every row is to fill.
  const sql = c.baseTablesPresent
    ? `SELECT count(*)::bigint AS n FROM ${step.table} t${columnsThere ? ` WHERE (${step.condition})` : ''}`
    : undefined;
  const rows = sql ? Number((await one<{ n: string }>(c.query, sql)).n) : 0;
  const batches = Math.ceil(rows / c.batchSize);
  return {
    kind: 'backfill',
    table: step.table,
    name: step.columns.join(', '),
    rows,
    rowsFrom: 'counted',
    description:
      `${step.table} (${step.columns.join(', ')}): ${plural(rows, 'row')} to change` +
      (rows > 0 ? `, in ${plural(batches, 'committed batch', 'committed batches')} of ${count(c.batchSize)} (MIGRATION_BATCH_SIZE)` : ''),
  };
}

async function planIndex(step: Extract<DataStep, { kind: 'index' }>, c: StepContext): Promise<PlannedStep> {
  const base = { kind: 'index' as const, table: step.table, name: step.name };
  const found = await one<{ table_exists: boolean; reltuples: number | null; bytes: string | null; index_valid: boolean | null }>(
    c.query,
    `SELECT t.oid IS NOT NULL AS table_exists, t.reltuples::float8 AS reltuples, pg_relation_size(t.oid)::bigint AS bytes,
            (SELECT x.indisvalid FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
              WHERE i.relname = $2 AND i.relnamespace = current_schema()::regnamespace) AS index_valid
       FROM (SELECT to_regclass(quote_ident(current_schema()) || '.' || quote_ident($1))::oid AS oid) r
       LEFT JOIN pg_class t ON t.oid = r.oid`,
    [step.table, step.name],
  );
  if (found.index_valid) {
    return { ...base, rows: 0, rowsFrom: 'counted', alreadyBuilt: true, description: `${step.name} on ${step.table}: built by an earlier run, nothing to do` };
  }
  if (!found.table_exists) {
    return {
      ...base,
      rows: 0,
      rowsFrom: 'counted',
      tableCreatedBefore: true,
      description: `${step.name} on ${step.table}: a table an earlier migration of this run creates (small), built concurrently`,
    };
  }
  // reltuples is -1 until the table is first analyzed (or vacuumed): count then.
  const estimated = found.reltuples !== null && found.reltuples >= 0;
  const rows = estimated ? Math.round(found.reltuples!) : Number((await one<{ n: string }>(c.query, `SELECT count(*)::bigint AS n FROM ${step.table}`)).n);
  const bytes = Number(found.bytes ?? 0);
  return {
    ...base,
    rows,
    rowsFrom: estimated ? 'estimated' : 'counted',
    tableBytes: bytes,
    description: `${step.name} on ${step.table}: ${estimated ? 'about ' : ''}${plural(rows, 'row')}, ${size(bytes)} to scan, built concurrently${found.index_valid === false ? ' (replacing the invalid leftover of an interrupted build)' : ''}`,
  };
}

async function planHandOver(step: Extract<DataStep, { kind: 'hand-over' }>, c: StepContext): Promise<PlannedStep> {
  const base = { kind: 'hand-over' as const, table: 'listed_cars, conversations', name: step.rule, rowsFrom: 'counted' as const };
  if (!c.baseTablesPresent) return { ...base, rows: 0, conversations: 0, description: 'nothing: the tables are new' };
  const holder = c.columns.has('listed_cars.current_owner_id') ? 'current_owner_id' : 'seller_id'; // migration 2 starts every listing with its seller
  const statusKnown = c.columns.has('sellers.member_status');
  if (step.rule === 'inactive-holders') {
    if (!statusKnown) {
      return { ...base, rows: 0, conversations: 0, members: 0, description: 'nothing: no member can be inactive before migration 1 adds member_status' };
    }
    const found = await one<{ members: number; listings: number; conversations: number }>(
      c.query,
      `SELECT (SELECT count(*)::int FROM sellers s WHERE s.member_status <> 'active'
                  AND (EXISTS (SELECT 1 FROM listed_cars l WHERE l.${holder} = s.id AND l.status = 'active')
                       OR EXISTS (SELECT 1 FROM conversations v WHERE v.seller_id = s.id AND v.status = 'open'))) AS members,
              (SELECT count(*)::int FROM listed_cars l JOIN sellers s ON s.id = l.${holder} WHERE l.status = 'active' AND s.member_status <> 'active') AS listings,
              (SELECT count(*)::int FROM conversations v JOIN sellers s ON s.id = v.seller_id WHERE v.status = 'open' AND s.member_status <> 'active') AS conversations`,
    );
    return {
      ...base,
      rows: found.listings,
      conversations: found.conversations,
      members: found.members,
      description:
        found.members === 0
          ? 'nothing: no member who is no longer active holds an active listing or an open conversation'
          : `${plural(found.listings, 'active listing')} and ${plural(found.conversations, 'open conversation')} that ${plural(found.members, 'member')} ` +
        `no longer active still hold, to their company's fallback (one member per transaction)`,
    };
  }
  // What migration 3 hands over first (an inactive holder) is not counted again here.
  const inactiveHandledBefore = statusKnown && c.pendingBefore.includes(MESSAGING_MIGRATION_NAMES[2]!);
  const notInactive = (s: string) => (inactiveHandledBefore ? ` AND NOT (${s}.id IS NOT NULL AND ${s}.member_status <> 'active')` : '');
  const found = await one<{ listings: number; conversations: number }>(
    c.query,
    `SELECT (SELECT count(*)::int FROM listed_cars l LEFT JOIN sellers s ON s.id = l.${holder}
              WHERE l.status = 'active' AND NOT coalesce(${holderRule(c.columns, 's', 'l')}, false)${notInactive('s')}) AS listings,
            (SELECT count(*)::int FROM conversations v JOIN listed_cars l ON l.id = v.listing_id JOIN sellers s ON s.id = v.seller_id
              WHERE v.status = 'open' AND NOT ${holderRule(c.columns, 's', 'l')}${notInactive('s')}) AS conversations`,
  );
  return {
    ...base,
    rows: found.listings,
    conversations: found.conversations,
    description:
      found.listings + found.conversations === 0
        ? 'nothing: every active listing and open conversation is held by someone the company-scoped rule allows'
        : `${plural(found.listings, 'active listing')} and ${plural(found.conversations, 'open conversation')} held by someone the company-scoped rule ` +
          `does not allow (another company's member, nobody), to whoever may hold them, in batches of 500`,
  };
}

function planStep(step: DataStep, c: StepContext): Promise<PlannedStep> {
  if (step.kind === 'backfill') return planBackfill(step, c);
  if (step.kind === 'index') return planIndex(step, c);
  return planHandOver(step, c);
}

/** Whether another runner (or a deploy) holds the runner's lock on this database now. */
async function runnerAtWork(query: Query): Promise<boolean> {
  const key = BigInt.asUintN(64, RUNNER_LOCK_KEY);
  const row = await one<{ held: boolean }>(
    query,
    `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
                      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                      AND classid = $1::bigint::oid AND objid = $2::bigint::oid) AS held`,
    [(key >> 32n).toString(), (key & 0xffffffffn).toString()],
  );
  return row.held;
}

async function companiesNobodyCouldTakeOver(query: Query, columns: Set<string>): Promise<number> {
  const active = columns.has('sellers.member_status') ? ` AND s.member_status = 'active'` : '';
  const row = await one<{ n: number }>(
    query,
    `SELECT count(*)::int AS n FROM companies co
      WHERE NOT EXISTS (SELECT 1 FROM sellers s WHERE s.company_id = co.id AND s.role IN ('owner', 'admin')${active})`,
  );
  return row.n;
}

/**
 * The dry run. Throws DatabaseUnreachableError when the database cannot be reached, and
 * DryRunLockTimeoutError when a read waited too long behind DDL.
 */
export async function planMessagingMigrations(options: DryRunOptions): Promise<DryRunReport> {
  const started = Date.now();
  const client = new pg.Client({ connectionString: options.connectionString, application_name: DRY_RUN_APPLICATION_NAME });
  try {
    await client.connect();
  } catch (error) {
    throw new DatabaseUnreachableError(databaseTarget(options.connectionString), connectionFailureReason(error), { cause: error });
  }
  const lockTimeoutMs = options.lockTimeoutMs ?? LOCK_TIMEOUT_MS;
  const query: Query = async <T extends object>(sql: string, params?: readonly unknown[]) => {
    try {
      return (await client.query(sql, params as unknown[])).rows as T[];
    } catch (error) {
      if ((error as { code?: string }).code === '55P03') throw new DryRunLockTimeoutError(lockTimeoutMs, { cause: error });
      throw error;
    }
  };
  try {
    await query(`SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY`);
    await query(`SET lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`);
    const batchSize = migrationSettings().batchSize;
    const found = await runPreflight(query, { createBaseSchema: options.createBaseSchema ?? false });
    const report = (fields: Partial<DryRunReport>): DryRunReport => ({
      dryRun: true,
      ok: false,
      postgresVersion: found.postgresVersion,
      baseTables: found.baseTables,
      alreadyApplied: [],
      pending: [],
      preflight: { problems: found.problems, notes: found.notes },
      notes: [],
      batchSize,
      ...fields,
      totalMs: Date.now() - started,
    });
    if (found.problems.length > 0) return report({ failure: { stage: 'preflight', message: formatPreflightProblems(found.problems) } });

    const [table] = await query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [MIGRATIONS_TABLE]);
    const alreadyApplied = table!.present ? (await query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`)).map((r) => r.name) : [];
    const pendingNames = MIGRATIONS.map((m) => m.name).filter((name) => !alreadyApplied.includes(name));
    const baseTablesPresent = found.baseTables === 'present';
    // As the runner: everything the pending migrations rely on (on an empty database, it checks once the baseline made the tables).
    const full = baseTablesPresent && pendingNames.some((name) => MESSAGING_MIGRATION_NAMES.includes(name)) ? await runPreflight(query, { applied: alreadyApplied }) : found;
    const journal = await journalEntries(query);
    const footprintOf = (name: string) => MIGRATION_FOOTPRINTS[name] ?? { created: [], changed: [], dropped: [] };
    const migration = (name: string, steps: PlannedStep[] = []): PlannedMigration => {
      const carriesOn = journal.get(name)?.startedAt;
      const footprint = footprintOf(name);
      return { name, ...(carriesOn ? { carriesOn } : {}), creates: footprint.created, changes: footprint.changed, drops: footprint.dropped, steps };
    };
    const preflight = { problems: full.problems, notes: full.notes };
    if (full.problems.length > 0) {
      return report({
        alreadyApplied,
        pending: pendingNames.map((name) => migration(name)),
        preflight,
        failure: { stage: 'preflight', message: formatPreflightProblems(full.problems) },
      });
    }

    const columns = await columnsPresent(query);
    const pending: PlannedMigration[] = [];
    for (const [index, name] of pendingNames.entries()) {
      const context: StepContext = { query, columns, baseTablesPresent, pendingBefore: pendingNames.slice(0, index), batchSize };
      const steps: PlannedStep[] = [];
      for (const step of MIGRATION_LONG_STEPS[name] ?? []) steps.push(await planStep(step, context));
      pending.push(migration(name, steps));
    }

    const notes: string[] = [];
    const declaredWithUuid = pendingNames.some((name) => MESSAGING_MIGRATION_NAMES.includes(name)) ? await messagingFunctionsDeclaredWithUuid(query) : [];
    if (declaredWithUuid.length > 0) {
      notes.push(
        `An earlier release installed this database: ${plural(declaredWithUuid.length, 'messaging function is', 'messaging functions are')} declared with uuid ` +
          `(${declaredWithUuid.join(', ')}). The pending migrations re-create each with the id domains (ems_*_id, uuid here), and the view ` +
          'listing_message_routing over them, each in a short transaction. The lists below are what a new install does and do not name these.',
      );
    }
    if (await runnerAtWork(query)) {
      notes.push('Another migration runner (or a deploy) is at work on this database now: what is pending may change before you run.');
    }
    const handOvers = pending.flatMap((m) => m.steps).filter((s) => s.kind === 'hand-over' && (s.rows > 0 || (s.conversations ?? 0) > 0));
    if (handOvers.length > 0) {
      const companies = await companiesNobodyCouldTakeOver(query, columns);
      if (companies > 0) {
        notes.push(
          `${plural(companies, 'company has', 'companies have')} no active owner or admin: what is handed over there goes to a message handler ` +
            "of theirs if they have one, else it is parked as pending_reassignment and buyers are told nobody can answer (409 no_recipient) " +
            `until a member is reactivated. Find: SELECT co.id, co.name FROM companies co WHERE NOT EXISTS (SELECT 1 FROM sellers s WHERE s.company_id = co.id AND s.role IN ('owner', 'admin')` +
            `${columns.has('sellers.member_status') ? ` AND s.member_status = 'active'` : ''});`,
        );
      }
    }
    return report({ ok: true, alreadyApplied, pending, preflight, notes });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The messaging functions (by name) an earlier release declared with uuid, before the id domains. */
async function messagingFunctionsDeclaredWithUuid(query: Query): Promise<string[]> {
  const rows = await query<{ name: string }>(
    `SELECT DISTINCT p.proname AS name FROM pg_proc p
      WHERE p.pronamespace = current_schema()::regnamespace
        AND (p.prorettype = 'uuid'::regtype OR 'uuid'::regtype = ANY (coalesce(p.proallargtypes, p.proargtypes::oid[])))
      ORDER BY 1`,
  );
  return rows.map((row) => row.name).filter((name) => isMessagingFunction(`function:${name}()`));
}

const KIND_ORDER = ['table', 'view', 'column', 'constraint', 'index', 'trigger', 'function', 'type'] as const;
const KIND_PLURALS: Record<string, string> = { index: 'indexes' };

/** `creates` / `changes` / `drops` by kind; what belongs to a table created here is counted with it. */
function describeKeys(keys: readonly string[]): string[] {
  const byKind = new Map<string, string[]>();
  for (const key of keys) {
    const colon = key.indexOf(':');
    const kind = key.slice(0, colon);
    if (kind === 'sequence') continue; // an identity column's, named by PostgreSQL
    byKind.set(kind, [...(byKind.get(kind) ?? []), key.slice(colon + 1)]);
  }
  const tables = new Set(byKind.get('table') ?? []);
  const ofTable = new Map<string, Map<string, number>>();
  for (const kind of ['column', 'constraint', 'trigger']) {
    const own = (byKind.get(kind) ?? []).filter((name) => tables.has(name.split('.')[0]!));
    for (const name of own) {
      const parts = ofTable.get(name.split('.')[0]!) ?? new Map<string, number>();
      parts.set(kind, (parts.get(kind) ?? 0) + 1);
      ofTable.set(name.split('.')[0]!, parts);
    }
    byKind.set(kind, (byKind.get(kind) ?? []).filter((name) => !own.includes(name)));
  }
  const lines: string[] = [];
  for (const kind of KIND_ORDER) {
    const names = byKind.get(kind) ?? [];
    if (names.length === 0) continue;
    const shown =
      kind === 'table'
        ? names.map((table) => {
            const parts = [...(ofTable.get(table) ?? new Map<string, number>())].map(([k, n]) => plural(n, k, KIND_PLURALS[k] ?? `${k}s`));
            return parts.length ? `${table} (${parts.join(', ')})` : table;
          })
        : names;
    lines.push(`${plural(names.length, kind, KIND_PLURALS[kind] ?? `${kind}s`)}: ${shown.join(', ')}`);
  }
  return lines;
}

/** `prefix` then `text`, in lines of at most `width` characters (a longer word stays whole), continued under `indent`. */
function wrap(prefix: string, text: string, indent: string, width = 110): string[] {
  const lines: string[] = [];
  let line = prefix;
  let empty = true;
  for (const word of text.split(' ')) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line);
      line = `${indent}${word}`;
    } else line = empty ? `${line}${word}` : `${line} ${word}`;
    empty = false;
  }
  lines.push(line);
  return lines;
}

/** The report as `npm run migrate:messaging -- --dry-run` prints it. */
export function formatDryRun(report: DryRunReport): string {
  const lines = [
    'Enhanced Messaging System: dry run (read-only: nothing is changed)',
    `  PostgreSQL        ${report.postgresVersion}`,
    `  Base tables       ${report.baseTables === 'present' ? 'present' : 'absent: the baseline migration would create them'}`,
  ];
  if (report.failure) {
    lines.push('', `❌ The migrations would not run: the pre-flight refuses this database.`, '', report.failure.message);
    if (report.pending.length > 0) lines.push('', `Pending: ${report.pending.map((m) => m.name).join(', ')}`);
    return lines.join('\n');
  }
  lines.push(`  Already applied   ${report.alreadyApplied.length ? report.alreadyApplied.join(', ') : 'none'}`);
  const messaging = report.pending.some((m) => MESSAGING_MIGRATION_NAMES.includes(m.name));
  lines.push(
    `  Pre-flight        ${
      !messaging
        ? 'passed (nothing of the messaging migrations left to check)'
        : report.baseTables === 'present'
          ? 'everything the migrations rely on is in place'
          : 'the base tables are checked once the baseline has created them'
    }`,
  );
  for (const note of [...report.preflight.notes, ...report.notes]) lines.push(...wrap('Note: ', note, '      '));
  if (report.pending.length === 0) {
    lines.push('', '✅ Nothing to apply: every migration is applied.');
    return lines.join('\n');
  }
  lines.push('', `Would apply ${plural(report.pending.length, 'migration')}, in this order:`);
  const indent = '                  ';
  for (const [index, m] of report.pending.entries()) {
    lines.push('', `${String(index + 1).padStart(2)}. ${m.name}${m.carriesOn ? `  (carried on: an earlier run started it at ${m.carriesOn})` : ''}`);
    if (index === 0 && m.name === MIGRATIONS[0]!.name) {
      lines.push(
        report.baseTables === 'present'
          ? '    records itself only: the base tables are present'
          : `    creates the marketplace's base tables: ${BASE_TABLES.join(', ')}`,
      );
      continue;
    }
    for (const [word, keys] of [
      ['creates', m.creates],
      ['changes', m.changes],
      ['drops', m.drops],
    ] as const) {
      for (const [i, text] of describeKeys(keys).entries()) lines.push(...wrap(`    ${(i === 0 ? word : '').padEnd(9)} `, text, indent));
    }
    for (const step of m.steps) lines.push(...wrap(`    ${step.kind.padEnd(9)} `, step.description, indent));
  }
  const long = report.pending.flatMap((m) => m.steps).filter((s) => !s.alreadyBuilt && s.rows > 0);
  lines.push(
    '',
    long.length > 0
      ? 'Backfills and index builds report their progress while the migrations run (rows done, rate and time left; an index build\'s phase).'
      : 'No step has rows to work through.',
    '',
    `✅ The migrations would run: \`npm run migrate:messaging\` applies ${report.pending.length === 1 ? 'it' : 'them'}.`,
  );
  return lines.join('\n');
}
