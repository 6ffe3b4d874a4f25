/**
 * The schema as data: every table, view, index, sequence, column, constraint, trigger, function
 * and type of the current schema, keyed by what names it (`column:sellers.member_status`,
 * `function:get_member_statistics(p_company_id uuid)`), with what a migration may change about it
 * (definition, grants, comment).
 *
 * Two uses: the undo of a failed migration compares the schema before it with the schema after it
 * and puts back what differs (./undo-journal.ts), and the pre-flight asks whether an object the
 * migrations are about to create already exists (functions/migration-runner/preflight.ts).
 *
 * Left out: knex's bookkeeping (knex_migrations*, including the undo journal itself) and the
 * objects of extensions, which no migration of ours creates or changes.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Knex } from 'knex';

/** Runs one query and returns its rows (`$1`-style parameters). */
export type Query = <T extends object>(sql: string, params?: readonly unknown[]) => Promise<T[]>;

/** A privilege as GRANT spells it, to whom (`PUBLIC` for everyone). */
export interface Grant {
  readonly grantee: string;
  readonly privilege: string;
  readonly grantable: boolean;
}

export type ObjectState =
  | { readonly kind: 'table'; readonly name: string; readonly grants: readonly Grant[]; readonly comment: string | null }
  | {
      readonly kind: 'view';
      readonly name: string;
      readonly materialized: boolean;
      readonly definition: string;
      readonly grants: readonly Grant[];
      readonly comment: string | null;
    }
  | {
      readonly kind: 'index';
      readonly name: string;
      readonly table: string;
      readonly definition: string;
      /** Made by a PRIMARY KEY, UNIQUE or EXCLUDE constraint: it comes and goes with the constraint. */
      readonly ofConstraint: boolean;
      readonly comment: string | null;
    }
  | { readonly kind: 'sequence'; readonly name: string; /** Made by a serial or identity column: it goes with the column. */ readonly ofColumn: boolean }
  | {
      readonly kind: 'column';
      readonly table: string;
      readonly name: string;
      readonly type: string;
      readonly notNull: boolean;
      readonly default: string | null;
      readonly grants: readonly Grant[];
      readonly comment: string | null;
    }
  | { readonly kind: 'constraint'; readonly table: string; readonly name: string; readonly type: string; readonly definition: string; readonly validated: boolean }
  | { readonly kind: 'trigger'; readonly table: string; readonly name: string; readonly definition: string; readonly enabled: string }
  | {
      readonly kind: 'function';
      readonly name: string;
      /** `name(argument types)`, quoted as DROP FUNCTION and GRANT take it. */
      readonly signature: string;
      readonly procedure: boolean;
      readonly result: string;
      readonly definition: string;
      readonly grants: readonly Grant[];
      readonly comment: string | null;
    }
  | { readonly kind: 'type'; readonly name: string; readonly type: string; readonly labels: readonly string[] };

export type ObjectKind = ObjectState['kind'];

/** Each object by its key (see objectKey). */
export type SchemaSnapshot = Readonly<Record<string, ObjectState>>;

/** Relations whose names start so are knex's bookkeeping (and the undo journal): never part of a snapshot. */
export const BOOKKEEPING_PREFIX = 'knex_migrations';

export function objectKey(state: ObjectState): string {
  switch (state.kind) {
    case 'column':
    case 'constraint':
    case 'trigger':
      return `${state.kind}:${state.table}.${state.name}`;
    case 'function':
      return `function:${state.name}(${state.signature.slice(state.signature.indexOf('(') + 1, -1)})`;
    default:
      return `${state.kind}:${state.name}`;
  }
}

/** Tables, views, indexes and sequences share one namespace: a name taken by any of them is taken. */
export const RELATION_KINDS: readonly ObjectKind[] = ['table', 'view', 'index', 'sequence'];

const GRANTS_OF = (acl: string) => `(
  SELECT coalesce(json_agg(json_build_object(
           'grantee', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
           'privilege', a.privilege_type, 'grantable', a.is_grantable)
         ORDER BY CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type), '[]'::json)
    FROM aclexplode(${acl}) a)`;

const NOT_BOOKKEEPING = (relname: string) => `${relname} NOT LIKE '${BOOKKEEPING_PREFIX}%'`;
const NOT_OF_EXTENSION = (classid: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '${classid}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`;

const RELATIONS_SQL = `
  SELECT c.relname AS name, c.relkind AS relkind,
         CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS view_definition,
         CASE WHEN c.relkind = 'i' THEN pg_get_indexdef(c.oid) END AS index_definition,
         CASE WHEN c.relkind = 'i' THEN (SELECT t.relname FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid WHERE x.indexrelid = c.oid) END AS index_table,
         EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid AND k.contype IN ('p', 'u', 'x')) AS of_constraint,
         EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')) AS of_column,
         ${GRANTS_OF(`coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's'::"char" ELSE 'r'::"char" END, c.relowner))`)} AS grants,
         obj_description(c.oid, 'pg_class') AS comment
    FROM pg_class c
   WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'i', 'S', 'f')
     AND ${NOT_BOOKKEEPING('c.relname')}
     AND NOT EXISTS (SELECT 1 FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid
                      WHERE x.indexrelid = c.oid AND t.relname LIKE '${BOOKKEEPING_PREFIX}%')
     AND ${NOT_OF_EXTENSION('pg_class', 'c.oid')}`;

const COLUMNS_SQL = `
  SELECT c.relname AS table_name, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
         pg_get_expr(d.adbin, d.adrelid) AS default_value,
         CASE WHEN a.attacl IS NULL OR cardinality(a.attacl) = 0 THEN '[]'::json ELSE ${GRANTS_OF('a.attacl')} END AS grants,
         col_description(c.oid, a.attnum) AS comment
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
     AND ${NOT_BOOKKEEPING('c.relname')} AND ${NOT_OF_EXTENSION('pg_class', 'c.oid')}`;

const CONSTRAINTS_SQL = `
  SELECT t.relname AS table_name, k.conname AS name, k.contype AS type, pg_get_constraintdef(k.oid) AS definition, k.convalidated AS validated
    FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
   WHERE t.relnamespace = current_schema()::regnamespace AND ${NOT_BOOKKEEPING('t.relname')} AND ${NOT_OF_EXTENSION('pg_class', 't.oid')}`;

const TRIGGERS_SQL = `
  SELECT t.relname AS table_name, g.tgname AS name, pg_get_triggerdef(g.oid) AS definition, g.tgenabled AS enabled
    FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid
   WHERE NOT g.tgisinternal AND t.relnamespace = current_schema()::regnamespace AND ${NOT_BOOKKEEPING('t.relname')}`;

// Aggregates and window functions have no pg_get_functiondef: no migration of ours makes one.
const FUNCTIONS_SQL = `
  SELECT p.proname AS name, p.oid::regprocedure::text AS signature, p.prokind = 'p' AS procedure,
         coalesce(pg_get_function_result(p.oid), '') AS result, pg_get_functiondef(p.oid) AS definition,
         ${GRANTS_OF(`coalesce(p.proacl, acldefault('f', p.proowner))`)} AS grants,
         obj_description(p.oid, 'pg_proc') AS comment
    FROM pg_proc p
   WHERE p.pronamespace = current_schema()::regnamespace AND p.prokind IN ('f', 'p') AND ${NOT_OF_EXTENSION('pg_proc', 'p.oid')}`;

// Domains, enums and ranges; a table's row type is the table's.
const TYPES_SQL = `
  SELECT t.typname AS name, t.typtype AS type,
         coalesce((SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '[]'::json) AS labels
    FROM pg_type t
   WHERE t.typnamespace = current_schema()::regnamespace AND t.typtype IN ('d', 'e', 'r') AND ${NOT_OF_EXTENSION('pg_type', 't.oid')}`;

const RELATION_KIND: Record<string, ObjectKind> = { r: 'table', p: 'table', f: 'table', v: 'view', m: 'view', i: 'index', S: 'sequence' };

export async function snapshotSchema(query: Query): Promise<SchemaSnapshot> {
  const states: ObjectState[] = [];
  type Relation = {
    name: string;
    relkind: string;
    view_definition: string | null;
    index_definition: string | null;
    index_table: string | null;
    of_constraint: boolean;
    of_column: boolean;
    grants: Grant[];
    comment: string | null;
  };
  for (const r of await query<Relation>(RELATIONS_SQL)) {
    const kind = RELATION_KIND[r.relkind]!;
    if (kind === 'table') states.push({ kind, name: r.name, grants: r.grants, comment: r.comment });
    else if (kind === 'view') {
      states.push({ kind, name: r.name, materialized: r.relkind === 'm', definition: r.view_definition!, grants: r.grants, comment: r.comment });
    } else if (kind === 'index') {
      states.push({ kind, name: r.name, table: r.index_table!, definition: r.index_definition!, ofConstraint: r.of_constraint, comment: r.comment });
    } else states.push({ kind: 'sequence', name: r.name, ofColumn: r.of_column });
  }
  type Column = { table_name: string; name: string; type: string; not_null: boolean; default_value: string | null; grants: Grant[]; comment: string | null };
  for (const c of await query<Column>(COLUMNS_SQL)) {
    states.push({ kind: 'column', table: c.table_name, name: c.name, type: c.type, notNull: c.not_null, default: c.default_value, grants: c.grants, comment: c.comment });
  }
  type Constraint = { table_name: string; name: string; type: string; definition: string; validated: boolean };
  for (const k of await query<Constraint>(CONSTRAINTS_SQL)) {
    states.push({ kind: 'constraint', table: k.table_name, name: k.name, type: k.type, definition: k.definition, validated: k.validated });
  }
  type Trigger = { table_name: string; name: string; definition: string; enabled: string };
  for (const g of await query<Trigger>(TRIGGERS_SQL)) {
    states.push({ kind: 'trigger', table: g.table_name, name: g.name, definition: g.definition, enabled: g.enabled });
  }
  type Function = { name: string; signature: string; procedure: boolean; result: string; definition: string; grants: Grant[]; comment: string | null };
  for (const f of await query<Function>(FUNCTIONS_SQL)) {
    states.push({ kind: 'function', name: f.name, signature: f.signature, procedure: f.procedure, result: f.result, definition: f.definition, grants: f.grants, comment: f.comment });
  }
  for (const t of await query<{ name: string; type: string; labels: string[] }>(TYPES_SQL)) {
    states.push({ kind: 'type', name: t.name, type: t.type, labels: t.labels });
  }
  return Object.fromEntries(states.map((state) => [objectKey(state), state]));
}

export interface SchemaDifference {
  /** Keys of objects that exist now and did not before. */
  readonly created: readonly string[];
  /** Keys of objects that exist in both, in another state. */
  readonly changed: readonly string[];
  /** Keys of objects that existed before and do not now. */
  readonly dropped: readonly string[];
}

const sameState = (a: ObjectState, b: ObjectState) => isDeepStrictEqual(a, b);

export function differences(before: SchemaSnapshot, after: SchemaSnapshot): SchemaDifference {
  const created = Object.keys(after).filter((key) => !(key in before));
  const dropped = Object.keys(before).filter((key) => !(key in after));
  const changed = Object.keys(after).filter((key) => key in before && !sameState(before[key]!, after[key]!));
  return { created: created.sort(), changed: changed.sort(), dropped: dropped.sort() };
}

/** Queries on one connection of knex's pool, outside knex's query log (bookkeeping, not migration SQL). */
export async function withKnexConnection<T>(knex: Knex, work: (query: Query) => Promise<T>): Promise<T> {
  const client = knex.client as { acquireConnection(): Promise<unknown>; releaseConnection(connection: unknown): Promise<unknown> };
  const connection = (await client.acquireConnection()) as { query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }> };
  try {
    return await work(async <T extends object>(sql: string, params?: readonly unknown[]) => (await connection.query(sql, params as unknown[])).rows as T[]);
  } finally {
    await client.releaseConnection(connection);
  }
}
