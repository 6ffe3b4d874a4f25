/**
 * The verification shared by `npm run migrate:messaging`, `npm run verify` and
 * the scheduled verification Lambda. It only reads.
 */
import { MIGRATIONS } from '../../migrations';
import { CHECKSUM_TABLE, checksumMatches, migrationChecksum } from '../../migrations/lib/checksums';
import { DATABASE_ROLE_PROBLEMS_SQL } from '../../migrations/lib/database-roles';
import { API_ROUTE_FUNCTIONS, MISSING_OBJECTS_SQL, missingObjectsParameters } from '../../migrations/lib/expected-objects';
import { ID_DOMAIN_TABLES } from '../../migrations/lib/id-domains';
import { API_ROUTE_FUNCTIONS_MIGRATION, COMPANY_SCOPED_ROUTING_MIGRATION, DATABASE_ROLES_MIGRATION, EVENTS_OUTBOX_MIGRATION } from '../../migrations/manifest';
import type { Database } from '../database/port';
import type { IdType } from '../shared/config';

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  /** The routing invariant check only: the count of every violation class (0 included). */
  readonly violations?: InvariantViolationCounts;
}

export interface VerificationReport {
  readonly ok: boolean;
  readonly checks: readonly CheckResult[];
}

// The guide's five post-migration checks, verbatim.
const GUIDE_TABLES_SQL = `SELECT table_name FROM information_schema.tables
WHERE table_name IN ('company_member_audit', 'conversation_ownership_log', 'company_message_handlers');`;
const GUIDE_SELLER_COLUMNS_SQL = `SELECT column_name FROM information_schema.columns
WHERE table_name = 'sellers' AND column_name = 'member_status';`;
const GUIDE_LISTING_COLUMNS_SQL = `SELECT column_name FROM information_schema.columns
WHERE table_name = 'listed_cars' AND column_name IN ('current_owner_id', 'current_owner_type', 'original_seller_id');`;
const GUIDE_FUNCTIONS_SQL = `SELECT routine_name FROM information_schema.routines
WHERE routine_type = 'FUNCTION'
AND routine_name IN ('get_listing_message_recipient', 'update_conversation_ownership', 'get_member_statistics');`;
const GUIDE_VIEWS_SQL = `SELECT table_name FROM information_schema.views
WHERE table_name IN ('listing_message_routing', 'active_company_message_handlers', 'active_company_members');`;

export const GUIDE_VERIFICATION_SQL = {
  tables: GUIDE_TABLES_SQL,
  sellerColumns: GUIDE_SELLER_COLUMNS_SQL,
  listingColumns: GUIDE_LISTING_COLUMNS_SQL,
  functions: GUIDE_FUNCTIONS_SQL,
  views: GUIDE_VIEWS_SQL,
} as const;

async function expectNames(db: Database, name: string, sql: string, wanted: readonly string[]): Promise<CheckResult> {
  const rows = await db.query(sql);
  const found = new Set(rows.map((row) => String(Object.values(row)[0])));
  const missing = wanted.filter((w) => !found.has(w));
  return missing.length === 0
    ? { name, ok: true, detail: `${wanted.length} of ${wanted.length} present` }
    : { name, ok: false, detail: `missing: ${missing.join(', ')}` };
}

/**
 * Each entity's id domain (migrations/sql/ids/ems_id_domains.sql) and its base table: one row per
 * entity with the domain's type as recorded on install (null: no domain) and the table's `id` type now.
 */
export const ID_TYPES_SQL = `
  SELECT e.domain_name, e.table_name,
         (SELECT format_type(t.typbasetype, t.typtypmod) FROM pg_type t
           WHERE t.typname = e.domain_name AND t.typnamespace = current_schema()::regnamespace AND t.typtype = 'd') AS recorded,
         (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
           WHERE a.attrelid = to_regclass(quote_ident(current_schema()) || '.' || e.table_name) AND a.attname = 'id' AND NOT a.attisdropped) AS actual
    FROM (VALUES ${ID_DOMAIN_TABLES.map(({ domain, table }, n) => `(${n}, '${domain}', '${table}')`).join(', ')}) AS e(n, domain_name, table_name)
   ORDER BY e.n`;

/**
 * The ids the messaging objects were installed for are still the marketplace's, and (when
 * EMS_ID_TYPE is given) the ones the API takes and answers (README: Id types).
 */
async function idTypesCheck(db: Database, expected: IdType | undefined): Promise<CheckResult> {
  const name = 'id types';
  const rows = await db.query<{ domain_name: string; table_name: string; recorded: string | null; actual: string | null }>(ID_TYPES_SQL);
  const problems: string[] = [];
  for (const row of rows) {
    if (row.actual === null) problems.push(`${row.table_name}.id is missing`);
    else if (row.recorded === null) problems.push(`the domain ${row.domain_name} is missing (migration 1 records ${row.table_name}.id's type in it)`);
    else if (row.recorded !== row.actual)
      problems.push(`${row.domain_name} is ${row.recorded} but ${row.table_name}.id is ${row.actual}: the ids changed type after the install`);
    if (expected !== undefined && row.actual !== null && row.actual !== expected) {
      problems.push(`the API takes ${expected} ids but ${row.table_name}.id is ${row.actual} (EMS_ID_TYPE)`);
    }
  }
  // A bigint id past 2^53 - 1 cannot be answered as a JSON number exactly (README: Id types). By the
  // primary key's index: the largest id only. (A table this role may not read is left out: buyers.)
  for (const row of rows.filter((r) => r.actual === 'bigint')) {
    const [access] = await db.query<{ readable: boolean }>(`SELECT has_column_privilege(to_regclass($1), 'id', 'SELECT') AS readable`, [row.table_name]);
    if (!access?.readable) continue;
    // The table name is one of ID_TYPES_SQL's own, not input.
    const [largest] = await db.query<{ beyond: boolean | null }>(`SELECT max(id) > 9007199254740991 AS beyond FROM ${row.table_name}`);
    if (largest?.beyond) problems.push(`${row.table_name} has ids beyond 9007199254740991 (2^53 - 1), which a JSON number cannot carry exactly`);
  }
  if (problems.length) return { name, ok: false, detail: problems.join('; ') };
  const types = [...new Set(rows.map((r) => r.actual))].join(' and ');
  return {
    name,
    ok: true,
    detail: `${types} ids, recorded as the ems_*_id domains${expected === undefined ? '' : ', as EMS_ID_TYPE says'}`,
  };
}

async function routingFunctionCheck(db: Database): Promise<CheckResult> {
  const name = 'routing function answers';
  // The id goes from the table to the function inside the statement: sent back as a parameter, an
  // integer id would arrive from the Data API as a bigint, which no function of an integer domain takes.
  const [listing] = await db.query<{ id: string; answers: number; routing_reason: string | null }>(
    `SELECT l.id, count(r.*)::int AS answers, min(r.routing_reason) AS routing_reason
       FROM (SELECT id FROM listed_cars WHERE status = 'active' LIMIT 1) l
       LEFT JOIN LATERAL get_listing_message_recipient(l.id) r ON true
      GROUP BY l.id`,
  );
  if (!listing) {
    // No id of any type names a listing: NULL.
    const rows = await db.query(`SELECT * FROM get_listing_message_recipient(NULL)`);
    return { name, ok: rows.length === 0, detail: 'no active listing; an unknown listing returns no row' };
  }
  return listing.answers === 1
    ? { name, ok: true, detail: `listing ${listing.id}: ${listing.routing_reason}` }
    : { name, ok: false, detail: `listing ${listing.id}: expected one row, got ${listing.answers}` };
}

async function installedObjectsCheck(db: Database): Promise<CheckResult> {
  // What is expected depends on what is applied: migration 5 replaces triggers of migrations 1-4.
  const applied = await appliedMigrationNames(db);
  const rows = await db.query<{ kind: string; name: string }>(
    MISSING_OBJECTS_SQL,
    missingObjectsParameters({
      companyScopedRouting: applied.includes(COMPANY_SCOPED_ROUTING_MIGRATION),
      apiRouteFunctions: applied.includes(API_ROUTE_FUNCTIONS_MIGRATION),
      eventsOutbox: applied.includes(EVENTS_OUTBOX_MIGRATION),
    }),
  );
  return rows.length === 0
    ? { name: 'triggers, indexes and columns', ok: true, detail: 'all present and valid' }
    : { name: 'triggers, indexes and columns', ok: false, detail: `missing: ${rows.map((r) => `${r.kind} ${r.name}`).join(', ')}` };
}

/** Once migration 7 is applied: the API's role may only call the routes, which run as their owner; the reader only reads. */
async function databaseRolesCheck(db: Database): Promise<CheckResult> {
  const name = 'database roles';
  if (!(await appliedMigrationNames(db)).includes(DATABASE_ROLES_MIGRATION)) {
    return { name, ok: true, detail: 'not installed yet (migration 7 pending)' };
  }
  const rows = await db.query<{ problem: string }>(DATABASE_ROLE_PROBLEMS_SQL, [[...API_ROUTE_FUNCTIONS]]);
  return rows.length === 0
    ? { name, ok: true, detail: `the ${API_ROUTE_FUNCTIONS.length} route functions run as their owner, callable by ems_route_caller only; ems_reader only reads` }
    : { name, ok: false, detail: rows.map((r) => r.problem).join('; ') };
}

async function appliedMigrationNames(db: Database): Promise<string[]> {
  const [table] = await db.query<{ exists: boolean }>(`SELECT to_regclass('knex_migrations') IS NOT NULL AS exists`);
  if (!table?.exists) return [];
  const rows = await db.query<{ name: string }>('SELECT name FROM knex_migrations ORDER BY id');
  return rows.map((r) => r.name);
}

async function migrationStatusCheck(db: Database): Promise<CheckResult> {
  const applied = new Set(await appliedMigrationNames(db));
  const [baseline, ...messaging] = MIGRATIONS.map((m) => m.name);
  // The baseline only creates base tables where absent; after `npx knex migrate:rollback --all` and the
  // guide's manual `migrate:up` of the four files it is legitimately unrecorded.
  const pending = messaging.filter((name) => !applied.has(name));
  const known = new Set(MIGRATIONS.map((m) => m.name));
  const unknown = [...applied].filter((name) => !known.has(name));
  const ok = pending.length === 0 && unknown.length === 0;
  const parts = [`${applied.size} applied`];
  if (pending.length) parts.push(`pending: ${pending.join(', ')}`);
  if (baseline && !applied.has(baseline)) parts.push('baseline not recorded (base tables pre-existed)');
  if (unknown.length) parts.push(`applied but unknown to this code: ${unknown.join(', ')}`);
  return { name: 'migration status', ok, detail: parts.join('; ') };
}

async function checksumCheck(db: Database): Promise<CheckResult> {
  const name = 'migration checksums';
  const [table] = await db.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [CHECKSUM_TABLE]);
  if (!table?.exists) return { name, ok: false, detail: `${CHECKSUM_TABLE} is missing: nothing recorded what was applied` };
  const recorded = await db.query<{ name: string; checksum: string }>(`SELECT name, checksum FROM ${CHECKSUM_TABLE}`);
  const byName = new Map(recorded.map((r) => [r.name, r.checksum]));
  const applied = await appliedMigrationNames(db);
  const changed: string[] = [];
  const unrecorded: string[] = [];
  let compared = 0;
  for (const migration of applied) {
    const current = migrationChecksum(migration);
    if (current === null) continue; // not part of this code base (reported by the status check)
    const stored = byName.get(migration);
    if (stored === undefined) unrecorded.push(migration);
    else if (!checksumMatches(migration, stored, current)) changed.push(migration);
    else compared += 1;
  }
  if (changed.length || unrecorded.length) {
    const parts = [];
    if (changed.length) parts.push(`edited after being applied: ${changed.join(', ')}`);
    if (unrecorded.length) parts.push(`no recorded checksum: ${unrecorded.join(', ')}`);
    return { name, ok: false, detail: parts.join('; ') };
  }
  return { name, ok: true, detail: `${compared} applied migration files unchanged` };
}

/**
 * The company-scoped routing invariant (README: How routing works):
 * every active listing is held by a valid holder, and every open conversation is held by a
 * valid holder of its listing, or by nobody (unassigned: the next buyer message goes to the
 * listing's recipient, so no lead reaches anyone else). A valid holder of listing L is an active member of L's company, or, for an
 * independent listing (company_id NULL), its seller_id while active.
 *
 * The violation classes, in report order. Each violating row counts in exactly one class, the
 * first that applies: unheld, then holder inactive (a holder row that does not exist counts as
 * inactive), then outside the listing's company / not the independent listing's seller.
 */
export const INVARIANT_VIOLATION_CLASSES = [
  'listing_unheld',
  'listing_holder_inactive',
  'listing_holder_outside_company',
  'listing_holder_not_its_seller',
  'conversation_holder_inactive',
  'conversation_holder_outside_company',
  'conversation_holder_not_its_seller',
] as const;

export type InvariantViolationClass = (typeof INVARIANT_VIOLATION_CLASSES)[number];

/** How many example ids the check names per class. */
export const INVARIANT_EXAMPLES_PER_CLASS = 3;

/**
 * One row per violated class (none on clean data): `violation` (a class above), `count`, and
 * `examples` (the smallest ids of that class, comma-separated, at most INVARIANT_EXAMPLES_PER_CLASS).
 *
 * Two passes, each joining by primary key: the active listings (partial indexes
 * `WHERE status = 'active'` exist; inactive rows need not be read) to their holder, and the
 * open conversations (`conversations_open_by_seller_idx`) to their listing and their holder.
 * Only violating rows are numbered and sorted, so a clean database costs the two scans and joins.
 */
export const INVARIANT_VIOLATIONS_SQL = `
  WITH listing_checks AS (
    SELECT l.id,
           CASE WHEN l.current_owner_id IS NULL THEN 'listing_unheld'
                WHEN s.id IS NULL OR s.member_status <> 'active' THEN 'listing_holder_inactive'
                WHEN l.company_id IS NOT NULL AND s.company_id IS DISTINCT FROM l.company_id THEN 'listing_holder_outside_company'
                WHEN l.company_id IS NULL AND s.id <> l.seller_id THEN 'listing_holder_not_its_seller'
           END AS violation
      FROM listed_cars l LEFT JOIN sellers s ON s.id = l.current_owner_id
     WHERE l.status = 'active'
  ), conversation_checks AS (
    SELECT c.id,
           CASE WHEN c.seller_id IS NULL THEN NULL -- unassigned: its next buyer message goes to the listing's recipient
                WHEN s.id IS NULL OR s.member_status <> 'active' THEN 'conversation_holder_inactive'
                WHEN l.company_id IS NOT NULL AND s.company_id IS DISTINCT FROM l.company_id THEN 'conversation_holder_outside_company'
                WHEN l.company_id IS NULL AND s.id <> l.seller_id THEN 'conversation_holder_not_its_seller'
           END AS violation
      FROM conversations c
      JOIN listed_cars l ON l.id = c.listing_id
      LEFT JOIN sellers s ON s.id = c.seller_id
     WHERE c.status = 'open'
  ), violations AS (
    SELECT violation, id, row_number() OVER (PARTITION BY violation ORDER BY id) AS n
      FROM (SELECT id, violation FROM listing_checks UNION ALL SELECT id, violation FROM conversation_checks) checked
     WHERE violation IS NOT NULL
  )
  SELECT violation, count(*)::int AS count,
         string_agg(id::text, ', ' ORDER BY id) FILTER (WHERE n <= ${INVARIANT_EXAMPLES_PER_CLASS}) AS examples
    FROM violations
   GROUP BY violation
   ORDER BY violation`;

export interface InvariantViolationRow {
  readonly violation: InvariantViolationClass;
  readonly count: number;
  readonly examples: string | null;
}

/** Every class with its count (0 when clean), in INVARIANT_VIOLATION_CLASSES order. */
export type InvariantViolationCounts = Readonly<Record<InvariantViolationClass, number>>;

async function invariantCheck(db: Database): Promise<CheckResult> {
  const name = 'routing invariant';
  const rows = await db.query<InvariantViolationRow>(INVARIANT_VIOLATIONS_SQL);
  const byClass = new Map(rows.map((r) => [r.violation, r]));
  const violations = Object.fromEntries(INVARIANT_VIOLATION_CLASSES.map((c) => [c, Number(byClass.get(c)?.count ?? 0)])) as Record<
    InvariantViolationClass,
    number
  >;
  const found = INVARIANT_VIOLATION_CLASSES.filter((c) => violations[c] > 0);
  if (found.length === 0) {
    return {
      name,
      ok: true,
      detail: 'every active listing and open conversation is held by an active member of its company (or its independent seller)',
      violations,
    };
  }
  const describe = (c: InvariantViolationClass) => {
    const examples = byClass.get(c)?.examples;
    return `${c}: ${violations[c]}${examples ? ` (e.g. ${examples})` : ''}`;
  };
  return { name, ok: false, detail: found.map(describe).join(', '), violations };
}

/**
 * Every conversation's ownership log is an unbroken chain (each row's previous owner is the
 * row before's new owner) ending at the conversation's current owner.
 */
export const OWNERSHIP_CHAIN_BREAKS_SQL = `
  SELECT conversation_id, 'row ' || id || ' does not follow the row before' AS problem
    FROM (SELECT conversation_id, id, previous_owner_id,
                 lag(new_owner_id) OVER w AS prior_new_owner, lag(id) OVER w AS prior_id
            FROM conversation_ownership_log WINDOW w AS (PARTITION BY conversation_id ORDER BY id)) chain
   WHERE prior_id IS NOT NULL AND previous_owner_id IS DISTINCT FROM prior_new_owner
  UNION ALL
  SELECT last.conversation_id, 'the last row does not name the current owner'
    FROM (SELECT DISTINCT ON (conversation_id) conversation_id, new_owner_id
            FROM conversation_ownership_log ORDER BY conversation_id, id DESC) last
    JOIN conversations c ON c.id = last.conversation_id
   WHERE c.seller_id IS DISTINCT FROM last.new_owner_id
  LIMIT 20`;

async function ownershipHistoryCheck(db: Database): Promise<CheckResult> {
  const rows = await db.query<{ conversation_id: string; problem: string }>(OWNERSHIP_CHAIN_BREAKS_SQL);
  return rows.length === 0
    ? { name: 'ownership history', ok: true, detail: 'every conversation history is an unbroken chain to its owner' }
    : {
        name: 'ownership history',
        ok: false,
        detail: `broken (first ${rows.length}): ${rows.map((r) => `conversation ${r.conversation_id}: ${r.problem}`).join(', ')}`,
      };
}

async function guarded(name: string, check: () => Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await check();
  } catch (error) {
    return { name, ok: false, detail: `could not run: ${(error as Error).message}` };
  }
}

export interface VerificationOptions {
  /** EMS_ID_TYPE where it is set (`idTypeSetting()`): the ids the API takes, which the database's must be. */
  readonly idType?: IdType;
}

export async function verifyInstallation(db: Database, options: VerificationOptions = {}): Promise<VerificationReport> {
  const checks = [
    await guarded('tables created', () =>
      expectNames(db, 'tables created', GUIDE_TABLES_SQL, ['company_member_audit', 'conversation_ownership_log', 'company_message_handlers']),
    ),
    await guarded('columns added (sellers)', () => expectNames(db, 'columns added (sellers)', GUIDE_SELLER_COLUMNS_SQL, ['member_status'])),
    await guarded('columns added (listed_cars)', () =>
      expectNames(db, 'columns added (listed_cars)', GUIDE_LISTING_COLUMNS_SQL, ['current_owner_id', 'current_owner_type', 'original_seller_id']),
    ),
    await guarded('functions created', () =>
      expectNames(db, 'functions created', GUIDE_FUNCTIONS_SQL, ['get_listing_message_recipient', 'update_conversation_ownership', 'get_member_statistics']),
    ),
    await guarded('views created', () =>
      expectNames(db, 'views created', GUIDE_VIEWS_SQL, ['listing_message_routing', 'active_company_message_handlers', 'active_company_members']),
    ),
    await guarded('id types', () => idTypesCheck(db, options.idType)),
    await guarded('routing function answers', () => routingFunctionCheck(db)),
    await guarded('triggers, indexes and columns', () => installedObjectsCheck(db)),
    await guarded('database roles', () => databaseRolesCheck(db)),
    await guarded('migration status', () => migrationStatusCheck(db)),
    await guarded('migration checksums', () => checksumCheck(db)),
    await guarded('routing invariant', () => invariantCheck(db)),
    await guarded('ownership history', () => ownershipHistoryCheck(db)),
  ];
  return { ok: checks.every((c) => c.ok), checks };
}

export function formatReport(report: VerificationReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines = report.checks.map((c) => `  ${c.ok ? '✅' : '❌'} ${c.name.padEnd(width)}  ${c.detail}`);
  lines.push('', report.ok ? 'Verification passed.' : `Verification FAILED: ${report.checks.filter((c) => !c.ok).length} check(s) failed.`);
  return lines.join('\n');
}
