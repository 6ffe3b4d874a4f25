/**
 * Dumps of the database for comparisons: the schema of the public schema (the
 * catalog, not the data), and the full contents of tables as exact text.
 */
import type { Database } from '../../functions/database/port';

const CATALOG_QUERIES = {
  tables: `SELECT table_name, table_type FROM information_schema.tables
            WHERE table_schema = 'public' ORDER BY table_name`,
  // ordinal_position is left out: a column dropped and added again (down → up) moves to the end,
  // which changes nothing a query can see.
  columns: `SELECT table_name, column_name, data_type, udt_name, character_maximum_length, numeric_precision,
                   column_default, is_nullable, is_identity, identity_generation, is_generated, generation_expression
              FROM information_schema.columns
             WHERE table_schema = 'public' ORDER BY table_name, column_name`,
  constraints: `SELECT conrelid::regclass::text AS table_name, conname, contype, convalidated,
                       pg_get_constraintdef(oid) AS definition
                  FROM pg_constraint
                 WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2`,
  indexes: `SELECT i.tablename, i.indexname, i.indexdef, x.indisvalid, x.indisready
              FROM pg_indexes i
              JOIN pg_class c ON c.relname = i.indexname AND c.relnamespace = 'public'::regnamespace
              JOIN pg_index x ON x.indexrelid = c.oid
             WHERE i.schemaname = 'public' ORDER BY 1, 2`,
  triggers: `SELECT t.tgrelid::regclass::text AS table_name, t.tgname, t.tgenabled, pg_get_triggerdef(t.oid) AS definition
               FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
              WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal ORDER BY 1, 2`,
  functions: `SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS arguments, pg_get_functiondef(p.oid) AS definition
                FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.prokind IN ('f', 'p') ORDER BY 1, 2`,
  views: `SELECT c.relname AS view_name, pg_get_viewdef(c.oid) AS definition
            FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('v', 'm') ORDER BY 1`,
  sequences: `SELECT sequence_name, data_type, start_value, increment FROM information_schema.sequences
               WHERE sequence_schema = 'public' ORDER BY 1`,
  // Who may do what: relations, columns and functions (a missing ACL is the default one, spelled out).
  privileges: `SELECT 'relation ' || c.relname AS object, CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee, a.privilege_type
                  FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
                 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
                UNION ALL
                SELECT 'column ' || c.relname || '.' || att.attname, CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type
                  FROM pg_class c JOIN pg_attribute att ON att.attrelid = c.oid, aclexplode(att.attacl) a
                 WHERE c.relnamespace = 'public'::regnamespace AND att.attacl IS NOT NULL
                UNION ALL
                SELECT 'function ' || p.oid::regprocedure::text, CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type
                  FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                 WHERE p.pronamespace = 'public'::regnamespace
                ORDER BY 1, 2, 3`,
  // Columns by name, not attnum (which moves when a column is dropped and added again).
  comments: `SELECT c.relname || coalesce('.' || a.attname, '') AS object, d.description
               FROM pg_description d JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND d.objoid = c.oid
               LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
              WHERE c.relnamespace = 'public'::regnamespace
             UNION ALL
             SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', d.description
               FROM pg_description d JOIN pg_proc p ON d.classoid = 'pg_proc'::regclass AND d.objoid = p.oid
              WHERE p.pronamespace = 'public'::regnamespace
             ORDER BY 1, 2`,
} as const;

export type SchemaCatalog = Record<keyof typeof CATALOG_QUERIES, Record<string, unknown>[]>;

/** Columns (type, default, nullability), constraints, indexes, triggers, functions, views, sequences, privileges and comments of `public`. */
export async function schemaCatalog(db: Database): Promise<SchemaCatalog> {
  const catalog = {} as SchemaCatalog;
  for (const [part, sql] of Object.entries(CATALOG_QUERIES) as [keyof typeof CATALOG_QUERIES, string][]) {
    catalog[part] = await db.query(sql);
  }
  return catalog;
}

export interface TableSnapshot {
  readonly columns: readonly string[];
  /** One JSON text per row, ORDER BY id, of exactly `columns` (timestamps to the microsecond). */
  readonly rows: readonly string[];
}

/** Every row of each table, all its current columns. */
export async function snapshotTables(db: Database, tables: readonly string[]): Promise<Record<string, TableSnapshot>> {
  const snapshot: Record<string, TableSnapshot> = {};
  for (const table of tables) {
    const columns = (
      await db.query<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
        [table],
      )
    ).map((c) => c.column_name);
    snapshot[table] = { columns, rows: await tableRows(db, table, columns) };
  }
  return snapshot;
}

/** The same tables and columns as `snapshot`, read now (columns added since are ignored). */
export async function reread(db: Database, snapshot: Record<string, TableSnapshot>): Promise<Record<string, TableSnapshot>> {
  const now: Record<string, TableSnapshot> = {};
  for (const [table, { columns }] of Object.entries(snapshot)) now[table] = { columns, rows: await tableRows(db, table, columns) };
  return now;
}

async function tableRows(db: Database, table: string, columns: readonly string[]): Promise<string[]> {
  const rows = await db.query<{ row: string }>(
    `SELECT json_build_array(${columns.map((c) => `"${c}"`).join(', ')})::text AS row FROM "${table}" ORDER BY id`,
  );
  return rows.map((r) => r.row);
}
