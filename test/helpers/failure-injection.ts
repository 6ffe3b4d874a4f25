/** Failures injected into a migration's DDL, for the tests of the way back. */
import pg from 'pg';
import type { TestDatabase } from './database';

let injected = 0;
/**
 * Makes the next statement whose text is LIKE `statement` fail (once), at the end of the command
 * (`ddl_command_end`) or as it drops something (`sql_drop`). Returns what removes the trap.
 */
export async function failOnce(t: TestDatabase, statement: string, event: 'ddl_command_end' | 'sql_drop' = 'ddl_command_end') {
  const name = `test_injected_failure_${(injected += 1)}`;
  await t.db.query(`CREATE SEQUENCE ${name}`);
  await t.db.query(`CREATE FUNCTION ${name}() RETURNS event_trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF current_query() LIKE ${pg.escapeLiteral(statement)} THEN
        IF nextval('${name}') = 1 THEN
          RAISE EXCEPTION 'injected failure (%)', ${pg.escapeLiteral(statement)};
        END IF;
      END IF;
    END $$`);
  await t.db.query(`CREATE EVENT TRIGGER ${name} ON ${event} EXECUTE FUNCTION ${name}()`);
  return async () => {
    await t.db.query(`DROP EVENT TRIGGER ${name}`);
    await t.db.query(`DROP FUNCTION ${name}()`);
    await t.db.query(`DROP SEQUENCE ${name}`);
  };
}
