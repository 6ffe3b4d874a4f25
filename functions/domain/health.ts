import { MIGRATION_NAMES } from '../../migrations/manifest';
import type { Database } from '../database/port';
import { UnavailableError } from './errors';

export interface Health {
  readonly status: 'ok';
  readonly database: 'reachable';
  readonly migrations: { readonly applied: number; readonly pending: readonly string[] };
}

/** Healthy: the database answers and every migration this code expects is applied. */
export async function checkHealth(db: Database): Promise<Health> {
  const [table] = await db.query<{ exists: boolean }>(`SELECT to_regclass('knex_migrations') IS NOT NULL AS exists`);
  const applied = table?.exists ? (await db.query<{ name: string }>('SELECT name FROM knex_migrations')).map((r) => r.name) : [];
  // The baseline may be unrecorded on a database whose base tables pre-existed (see verification).
  const pending = MIGRATION_NAMES.slice(1).filter((name) => !applied.includes(name));
  if (pending.length > 0) throw new UnavailableError(`Migrations pending: ${pending.join(', ')}`);
  return { status: 'ok', database: 'reachable', migrations: { applied: applied.length, pending } };
}
