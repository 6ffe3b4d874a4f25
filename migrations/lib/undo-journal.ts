/**
 * The way back from a migration that fails part-way.
 *
 * Before a messaging migration starts, the schema as it is (./schema-snapshot.ts) is written to
 * the journal table, one row per migration that has started and not finished. A run that stops
 * early (killed, the time limit of a deploy slice, a lost session) leaves its row, so the next run,
 * which carries on, still knows what the schema was before the first attempt. When a migration
 * fails, `undoMigration` puts every object it touched back as the row says (dropping what it
 * created, re-creating what it replaced or dropped, re-granting, re-commenting), and the row goes
 * once nothing is left to put back. A finished migration removes its row; the table goes with the
 * last row.
 *
 * What it touched: the objects its footprint names (./migration-footprints.ts), so an object of the
 * marketplace that the migration never touches stays exactly as the marketplace has it, even one the
 * marketplace changed between two attempts or while the migration ran. (A migration without a
 * footprint yet: what this run changed.)
 *
 * Rows written before the failure stay: the backfilled columns and the new tables go with the
 * undo, but a hand-over of listings or conversations already committed (migrations 3 and 5 move
 * what removed members still held) is the routing at work and stays, logged.
 */
import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import type { Knex } from 'knex';
import { ID_DOMAINS } from './id-domains';
import { DEPENDENT_VIEW } from './id-signatures';
import { isMessagingFunction, touchedBy } from './migration-footprints';
import { createIndexConcurrentlyAs, ddl, dropIndexConcurrently } from './safe-ddl';
import { type Grant, type ObjectState, type Query, type SchemaSnapshot, snapshotSchema, withKnexConnection } from './schema-snapshot';

export const UNDO_JOURNAL_TABLE = 'knex_migrations_undo';

export interface JournalEntry {
  readonly name: string;
  readonly startedAt: string;
  /** The schema before the migration's first attempt. */
  readonly before: SchemaSnapshot;
}

async function journalExists(query: Query): Promise<boolean> {
  const [row] = await query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [UNDO_JOURNAL_TABLE]);
  return row!.present;
}

/** The migrations that started and did not finish, each with the schema before it. */
export async function journalEntries(query: Query): Promise<Map<string, JournalEntry>> {
  if (!(await journalExists(query))) return new Map();
  const rows = await query<{ name: string; started_at: Date; schema_before: SchemaSnapshot }>(
    `SELECT name, started_at, schema_before FROM ${UNDO_JOURNAL_TABLE} ORDER BY started_at`,
  );
  return new Map(rows.map((r) => [r.name, { name: r.name, startedAt: r.started_at.toISOString(), before: r.schema_before }]));
}

/** Records `before` for `name` unless an earlier attempt did; returns the entry in force. */
export async function openJournalEntry(query: Query, name: string, before: SchemaSnapshot): Promise<JournalEntry> {
  await query(`CREATE TABLE IF NOT EXISTS ${UNDO_JOURNAL_TABLE} (
    name text PRIMARY KEY, started_at timestamptz NOT NULL DEFAULT now(), schema_before jsonb NOT NULL)`);
  await query(`INSERT INTO ${UNDO_JOURNAL_TABLE} (name, schema_before) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, [name, JSON.stringify(before)]);
  return (await journalEntries(query)).get(name)!;
}

export async function closeJournalEntry(query: Query, name: string): Promise<void> {
  if (!(await journalExists(query))) return;
  await query(`DELETE FROM ${UNDO_JOURNAL_TABLE} WHERE name = $1`, [name]);
  const [left] = await query<{ n: number }>(`SELECT count(*)::int AS n FROM ${UNDO_JOURNAL_TABLE}`);
  if (left!.n === 0) await query(`DROP TABLE IF EXISTS ${UNDO_JOURNAL_TABLE}`);
}

export interface UndoResult {
  /** Keys of the objects put back as they were. */
  readonly restored: readonly string[];
  /** Keys of objects still not as they were (a dropped column's data cannot come back, for one). */
  readonly leftovers: readonly string[];
}

const id = (name: string) => pg.escapeIdentifier(name);
const literal = (text: string | null) => (text === null ? 'NULL' : pg.escapeLiteral(text));

const COMMENT_TARGET: Partial<Record<ObjectState['kind'], (state: ObjectState) => string>> = {
  table: (s) => `TABLE ${id((s as { name: string }).name)}`,
  view: (s) => `${(s as { materialized: boolean }).materialized ? 'MATERIALIZED VIEW' : 'VIEW'} ${id((s as { name: string }).name)}`,
  index: (s) => `INDEX ${id((s as { name: string }).name)}`,
  column: (s) => `COLUMN ${id((s as { table: string }).table)}.${id((s as { name: string }).name)}`,
  function: (s) => `${(s as { procedure: boolean }).procedure ? 'PROCEDURE' : 'FUNCTION'} ${(s as { signature: string }).signature}`,
};

/** GRANT and REVOKE that turn `now` into `target` on one object. */
function grantStatements(state: ObjectState, now: readonly Grant[], target: readonly Grant[]): string[] {
  const on =
    state.kind === 'function'
      ? `ON ${state.procedure ? 'PROCEDURE' : 'FUNCTION'} ${state.signature}`
      : state.kind === 'column'
        ? `ON ${id(state.table)}`
        : `ON ${id((state as { name: string }).name)}`;
  const privilege = (g: Grant) => (state.kind === 'column' ? `${g.privilege} (${id(state.name)})` : g.privilege);
  const grantee = (g: Grant) => (g.grantee === 'PUBLIC' ? 'PUBLIC' : id(g.grantee));
  const same = (a: Grant, b: Grant) => a.grantee === b.grantee && a.privilege === b.privilege && a.grantable === b.grantable;
  return [
    ...now.filter((g) => !target.some((t) => same(t, g))).map((g) => `REVOKE ${privilege(g)} ${on} FROM ${grantee(g)}`),
    ...target
      .filter((g) => !now.some((n) => same(n, g)))
      .map((g) => `GRANT ${privilege(g)} ${on} TO ${grantee(g)}${g.grantable ? ' WITH GRANT OPTION' : ''}`),
  ];
}

const withoutNotValid = (definition: string) => definition.replace(/\s+NOT VALID$/, '');
// Key order is not kept by jsonb (the journal): compare by content.
const same = (a: ObjectState | undefined, b: ObjectState | undefined) => isDeepStrictEqual(a, b);

/**
 * Puts every object `migration` touched back as `before` has it. `attemptBefore`, the schema when
 * this run of the migration started, tells what a migration without a footprint touched. Structure
 * first, in one transaction (all of it or none), with the index builds and drops that cannot run in
 * one around it; then grants and comments.
 */
export async function undoMigration(knex: Knex, migration: string, before: SchemaSnapshot, attemptBefore?: SchemaSnapshot): Promise<UndoResult> {
  const now = await withKnexConnection(knex, snapshotSchema);
  // A migration without a footprint yet: what this run changed is all that is known to be its own.
  let touched = new Set(touchedBy(migration));
  if (touched.size === 0 && attemptBefore) {
    touched = new Set([...new Set([...Object.keys(attemptBefore), ...Object.keys(now)])].filter((key) => !same(attemptBefore[key], now[key])));
  }
  // On a database an earlier release installed, the messaging functions a migration re-creates from
  // its files had uuid where the files have the id domains: the attempt dropped the one signature and
  // made the other, which a clean run's footprint cannot name. Such a signature (a messaging
  // function's, with uuid or an id domain among its types, not in both snapshots) goes back, with the
  // view that calls get_listing_message_recipient and the id domains the run made. Nothing else
  // joins: an overload of the marketplace's own, or anything only another migration touches, stays.
  const functionName = (key: string) => key.slice(0, key.indexOf('('));
  const idTyped = (key: string) => /[(,]\s*(uuid|ems_\w+_id)\s*[,)]/.test(key.slice(key.indexOf('(')));
  const resigned = [...new Set([...Object.keys(before), ...Object.keys(now)])].filter(
    (key) => key.startsWith('function:') && isMessagingFunction(key) && idTyped(key) && (before[key] === undefined) !== (now[key] === undefined),
  );
  for (const key of resigned) touched.add(key);
  const dependentViewKey = `view:${DEPENDENT_VIEW.name}`;
  if (resigned.some((key) => functionName(key) === `function:${DEPENDENT_VIEW.calls}`) && !same(before[dependentViewKey], now[dependentViewKey])) touched.add(dependentViewKey);
  for (const domain of ID_DOMAINS) if (!same(before[`type:${domain}`], now[`type:${domain}`])) touched.add(`type:${domain}`);
  const keys = [...touched].filter((key) => !same(before[key], now[key])).sort();
  const target = (key: string) => before[key];
  const current = (key: string) => now[key];
  const ofKind = <K extends ObjectState['kind']>(kind: K) => keys.filter((key) => key.startsWith(`${kind}:`));
  // A table that did not exist before takes its columns, constraints, triggers and indexes with it.
  const tableSurvives = (table: string) => before[`table:${table}`] !== undefined;

  const indexesToDrop = ofKind('index').filter((key) => {
    const n = current(key) as Extract<ObjectState, { kind: 'index' }> | undefined;
    return n && !n.ofConstraint && tableSurvives(n.table);
  });
  const indexesToBuild = ofKind('index').filter((key) => {
    const t = target(key) as Extract<ObjectState, { kind: 'index' }> | undefined;
    return t && !t.ofConstraint;
  });

  const structure: string[] = [
    // Functions come back as they were, whatever they call now.
    'SET LOCAL check_function_bodies = off',
  ];
  for (const key of ofKind('function')) {
    const t = target(key) as Extract<ObjectState, { kind: 'function' }> | undefined;
    const n = current(key) as Extract<ObjectState, { kind: 'function' }> | undefined;
    if (!t || (n && n.definition === t.definition)) continue;
    if (n && n.result !== t.result) structure.push(`DROP ${n.procedure ? 'PROCEDURE' : 'FUNCTION'} ${n.signature}`);
    structure.push(t.definition);
    // Made anew, it is executable by PUBLIC (and may be SECURITY DEFINER): its grants come back in
    // the same transaction, not after it.
    if (!n || n.result !== t.result) structure.push(...grantStatements(t, [{ grantee: 'PUBLIC', privilege: 'EXECUTE', grantable: false }], t.grants));
  }
  for (const key of ofKind('view')) {
    const t = target(key) as Extract<ObjectState, { kind: 'view' }> | undefined;
    const n = current(key) as Extract<ObjectState, { kind: 'view' }> | undefined;
    if (!t || t.materialized || (n && n.definition === t.definition)) continue;
    const create = `CREATE OR REPLACE VIEW ${id(t.name)} AS ${t.definition.replace(/;\s*$/, '')}`;
    const grantsAndComment = [
      ...grantStatements(t, [], t.grants),
      ...(t.comment === null ? [] : [`COMMENT ON VIEW ${id(t.name)} IS ${literal(t.comment)}`]),
    ];
    if (!n) {
      // Made anew: its grants and comment in the same transaction.
      structure.push(create, ...grantsAndComment);
      continue;
    }
    // Replaced in place; only where a column's type changes (an id domain back to uuid), which
    // CREATE OR REPLACE refuses (42P16), dropped and made again, with its grants and comment in the
    // same transaction. A view of the marketplace's over it makes that drop fail: the undo says so.
    const remade = [`DROP VIEW ${id(t.name)}`, create, ...grantsAndComment];
    const body = `BEGIN\n  EXECUTE ${literal(create)};\nEXCEPTION WHEN invalid_table_definition THEN\n${remade.map((sql) => `  EXECUTE ${literal(sql)};`).join('\n')}\nEND`;
    // A dollar-quote tag the body does not contain (a view's text may hold any string).
    let tag = '$undo_view$';
    for (let i = 1; body.includes(tag); i += 1) tag = `$undo_view_${i}$`;
    structure.push(`DO ${tag} ${body} ${tag}`);
  }
  for (const key of ofKind('trigger')) {
    const t = target(key) as Extract<ObjectState, { kind: 'trigger' }> | undefined;
    const n = current(key) as Extract<ObjectState, { kind: 'trigger' }> | undefined;
    if (t) {
      const recreated = !n || n.definition !== t.definition;
      if (recreated) structure.push(`DROP TRIGGER IF EXISTS ${id(t.name)} ON ${id(t.table)}`, t.definition);
      // A trigger made anew fires ('O'); one that was disabled, or fires only on a replica, goes back so.
      if ((recreated ? 'O' : n.enabled) !== t.enabled) {
        const mode = { O: 'ENABLE', D: 'DISABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' }[t.enabled] ?? 'ENABLE';
        structure.push(`ALTER TABLE ${id(t.table)} ${mode} TRIGGER ${id(t.name)}`);
      }
    } else if (n && tableSurvives(n.table)) structure.push(`DROP TRIGGER IF EXISTS ${id(n.name)} ON ${id(n.table)}`);
  }
  const newViews = ofKind('view').filter((key) => !target(key) && current(key));
  const plainViews = newViews.filter((key) => !(current(key) as { materialized: boolean }).materialized);
  const materializedViews = newViews.filter((key) => (current(key) as { materialized: boolean }).materialized);
  if (plainViews.length) structure.push(`DROP VIEW IF EXISTS ${plainViews.map((key) => id((current(key) as { name: string }).name)).join(', ')}`);
  if (materializedViews.length) {
    structure.push(`DROP MATERIALIZED VIEW IF EXISTS ${materializedViews.map((key) => id((current(key) as { name: string }).name)).join(', ')}`);
  }

  const toValidate: Extract<ObjectState, { kind: 'constraint' }>[] = [];
  for (const key of ofKind('constraint')) {
    const t = target(key) as Extract<ObjectState, { kind: 'constraint' }> | undefined;
    const n = current(key) as Extract<ObjectState, { kind: 'constraint' }> | undefined;
    if (n && tableSurvives(n.table) && (!t || n.definition !== t.definition || n.type !== t.type)) {
      structure.push(`ALTER TABLE ${id(n.table)} DROP CONSTRAINT IF EXISTS ${id(n.name)}`);
    }
    if (t && (!n || n.definition !== t.definition || n.type !== t.type)) {
      // Checked without a long lock: added NOT VALID, validated after the transaction if it was valid.
      const checkable = t.type === 'c' || t.type === 'f';
      structure.push(`ALTER TABLE ${id(t.table)} ADD CONSTRAINT ${id(t.name)} ${withoutNotValid(t.definition)}${checkable ? ' NOT VALID' : ''}`);
      if (checkable && t.validated) toValidate.push(t);
    } else if (t && n && t.validated && !n.validated) toValidate.push(t);
  }

  const columnsToDrop = new Map<string, string[]>();
  for (const key of ofKind('column')) {
    const t = target(key) as Extract<ObjectState, { kind: 'column' }> | undefined;
    const n = current(key) as Extract<ObjectState, { kind: 'column' }> | undefined;
    if (!t && n && tableSurvives(n.table)) columnsToDrop.set(n.table, [...(columnsToDrop.get(n.table) ?? []), n.name]);
    if (t && n && t.type === n.type) {
      const column = `ALTER TABLE ${id(t.table)} ALTER COLUMN ${id(t.name)}`;
      if (t.default !== n.default) structure.push(t.default === null ? `${column} DROP DEFAULT` : `${column} SET DEFAULT ${t.default}`);
      if (t.notNull !== n.notNull) structure.push(`${column} ${t.notNull ? 'SET' : 'DROP'} NOT NULL`);
    }
  }
  for (const [table, columns] of columnsToDrop) {
    structure.push(`ALTER TABLE ${id(table)} ${columns.map((c) => `DROP COLUMN IF EXISTS ${id(c)}`).join(', ')}`);
  }

  // New tables before new functions: a new table's triggers and defaults use them.
  const newTables = ofKind('table').filter((key) => !target(key) && current(key));
  if (newTables.length) structure.push(`DROP TABLE IF EXISTS ${newTables.map((key) => id((current(key) as { name: string }).name)).join(', ')}`);
  const newFunctions = ofKind('function').filter((key) => !target(key) && current(key));
  for (const procedure of [false, true]) {
    const signatures = newFunctions
      .map((key) => current(key) as Extract<ObjectState, { kind: 'function' }>)
      .filter((f) => f.procedure === procedure)
      .map((f) => f.signature);
    if (signatures.length) structure.push(`DROP ${procedure ? 'PROCEDURE' : 'FUNCTION'} IF EXISTS ${signatures.join(', ')}`);
  }
  const newSequences = ofKind('sequence').filter((key) => !target(key) && current(key) && !(current(key) as { ofColumn: boolean }).ofColumn);
  if (newSequences.length) structure.push(`DROP SEQUENCE IF EXISTS ${newSequences.map((key) => id((current(key) as { name: string }).name)).join(', ')}`);
  const newTypes = ofKind('type').filter((key) => !target(key) && current(key));
  if (newTypes.length) structure.push(`DROP TYPE IF EXISTS ${newTypes.map((key) => id((current(key) as { name: string }).name)).join(', ')}`);

  for (const key of indexesToDrop) await dropIndexConcurrently(knex, id((current(key) as { name: string }).name));
  if (structure.length > 1) await ddl(knex, structure);
  for (const key of indexesToBuild) {
    const t = target(key) as Extract<ObjectState, { kind: 'index' }>;
    await createIndexConcurrentlyAs(knex, t.name, t.definition);
  }
  for (const constraint of toValidate) await ddl(knex, `ALTER TABLE ${id(constraint.table)} VALIDATE CONSTRAINT ${id(constraint.name)}`);

  // Grants and comments, on what stands now (a function re-created above has its default grants).
  const rebuilt = await withKnexConnection(knex, snapshotSchema);
  const finishing: string[] = [];
  for (const key of keys) {
    const t = target(key);
    const n = rebuilt[key];
    if (!t || !n || t.kind !== n.kind) continue;
    if ('grants' in t && 'grants' in n) finishing.push(...grantStatements(n, n.grants, t.grants));
    const comment = COMMENT_TARGET[t.kind];
    if (comment && 'comment' in t && 'comment' in n && t.comment !== n.comment) finishing.push(`COMMENT ON ${comment(t)} IS ${literal(t.comment)}`);
  }
  if (finishing.length) await ddl(knex, finishing);

  const after = await withKnexConnection(knex, snapshotSchema);
  return { restored: keys.filter((key) => same(before[key], after[key])), leftovers: keys.filter((key) => !same(before[key], after[key])) };
}
