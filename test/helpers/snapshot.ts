/** A fingerprint of every table's contents, to prove a refused request wrote nothing. */
import type { Database } from '../../functions/database/port';

export async function contentFingerprint(db: Database): Promise<Record<string, string>> {
  const tables = await db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'knex%'
      ORDER BY table_name`,
  );
  const result: Record<string, string> = {};
  for (const { table_name } of tables) {
    const [row] = await db.query<{ digest: string | null }>(
      `SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) AS digest FROM ${table_name} t`,
    );
    result[table_name] = row?.digest ?? 'empty';
  }
  return result;
}
