/**
 * Databases that installed the messaging system before the entity id domains (migration 9) have
 * functions whose signatures say `uuid` where the files now name a domain (ems_listing_id, ...).
 * A function cannot change its argument types in place: CREATE OR REPLACE from the file would add
 * a second definition beside the first, and every call that fits both would become ambiguous. So
 * before a migration re-creates functions from files, the uuid definitions of those functions are
 * dropped, with the view that calls one, and put back afterwards exactly as they were around the
 * definition: comments, SECURITY DEFINER and SET options, grants. On a database installed with the
 * domains there is nothing of the kind and both lists are empty.
 */
import type { Knex } from 'knex';
import { readSqlFile } from './sql-files';

/** The view that calls a function whose signature changes, and the file that makes it. */
export const DEPENDENT_VIEW = { name: 'listing_message_routing', file: 'routing/listing_message_routing.sql', calls: 'get_listing_message_recipient' };

const quoteLiteral = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** The function a `.sql` file defines (one per file). */
export function functionDefinedIn(sql: string): string | undefined {
  return /CREATE\s+OR\s+REPLACE\s+FUNCTION\s+(\w+)\s*\(/i.exec(sql)?.[1];
}

interface UuidDefinition {
  readonly name: string;
  readonly signature: string;
  readonly comment: string | null;
  readonly securityDefiner: boolean;
  readonly settings: string[] | null;
  /** GRANT/REVOKE statements that give it the privileges it has (by name: one definition each; regrole's text is quoted where needed). */
  readonly privileges: string[];
}

export interface Replacement {
  /** The functions of `files` that have a uuid definition, by name. */
  readonly functions: readonly string[];
  /** To run before re-creating them from their files, and after, in the same transaction. */
  readonly drop: readonly string[];
  readonly restore: readonly string[];
}

/** What re-creating the functions `files` define takes on this database (nothing where the signatures name the domains). */
export async function replaceUuidSignatures(knex: Knex, files: readonly string[]): Promise<Replacement> {
  const names = [...new Set(files.map((file) => functionDefinedIn(readSqlFile(file))).filter((name): name is string => name !== undefined))];
  const result = await knex.raw(
    `SELECT p.proname AS name, p.oid::regprocedure::text AS signature, obj_description(p.oid, 'pg_proc') AS comment,
            p.prosecdef AS "securityDefiner", p.proconfig AS settings,
            coalesce((SELECT array_agg(format('GRANT %s ON FUNCTION %I TO %s%s', a.privilege_type, p.proname,
                                              CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
                                              CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
                                       ORDER BY a.grantee, a.privilege_type)
                        FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                       WHERE a.grantee <> p.proowner), '{}') AS grants
       FROM pg_proc p
      WHERE p.pronamespace = current_schema()::regnamespace AND p.proname = ANY (?::text[])
        AND (p.prorettype = 'uuid'::regtype OR 'uuid'::regtype = ANY (coalesce(p.proallargtypes, p.proargtypes::oid[])))
      ORDER BY p.proname`,
    [names],
  );
  const found: UuidDefinition[] = (result.rows as (Omit<UuidDefinition, 'privileges'> & { grants: string[] })[]).map((row) => ({
    ...row,
    // A new function is executable by PUBLIC: take that away first, then give what it had.
    privileges: [`REVOKE ALL ON FUNCTION ${row.name} FROM PUBLIC`, ...row.grants],
  }));
  if (found.length === 0) return { functions: [], drop: [], restore: [] };

  const drop: string[] = [];
  const restore: string[] = [];
  if (found.some((f) => f.name === DEPENDENT_VIEW.calls)) {
    const view = await knex.raw(
      `SELECT obj_description(c.oid, 'pg_class') AS comment,
              coalesce((SELECT array_agg(format('GRANT %s ON %I TO %s%s', a.privilege_type, c.relname,
                                                CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
                                                CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END))
                          FROM aclexplode(c.relacl) a WHERE a.grantee <> c.relowner), '{}') AS grants
         FROM pg_class c WHERE c.oid = to_regclass(?)`,
      [DEPENDENT_VIEW.name],
    );
    const existing = view.rows[0] as { comment: string | null; grants: string[] } | undefined;
    if (existing) {
      drop.push(`DROP VIEW ${DEPENDENT_VIEW.name}`);
      restore.push(readSqlFile(DEPENDENT_VIEW.file), ...existing.grants);
      if (existing.comment !== null) restore.push(`COMMENT ON VIEW ${DEPENDENT_VIEW.name} IS ${quoteLiteral(existing.comment)}`);
    }
  }
  drop.push(...found.map((f) => `DROP FUNCTION ${f.signature}`));
  for (const f of found) {
    if (f.comment !== null) restore.push(`COMMENT ON FUNCTION ${f.name} IS ${quoteLiteral(f.comment)}`);
    if (f.securityDefiner) restore.push(`ALTER FUNCTION ${f.name} SECURITY DEFINER`);
    for (const setting of f.settings ?? []) {
      const equals = setting.indexOf('=');
      const [name, value] = [setting.slice(0, equals), setting.slice(equals + 1)];
      // search_path is stored as the list it was set to (identifiers quoted where needed): put back as is.
      restore.push(`ALTER FUNCTION ${f.name} SET ${name} = ${name === 'search_path' && value !== '' ? value : quoteLiteral(value)}`);
    }
    restore.push(...f.privileges);
  }
  return { functions: found.map((f) => f.name), drop, restore };
}
