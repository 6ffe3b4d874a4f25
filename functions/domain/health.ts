import { MIGRATION_NAMES } from '../../migrations/manifest';
import type { Database } from '../database/port';
import type * as wire from '../http/response-schemas';
import { UnavailableError } from './errors';
import { callFunction } from './transactions';

/** The JSON api_health returns, declared once as the API's schema (functions/http/schemas.ts). */
export type Health = wire.Wire<'Health'>;

/** Healthy: the database answers and every migration this code expects is applied (one statement). */
export async function checkHealth(db: Database): Promise<Health> {
  try {
    // The baseline may be unrecorded on a database whose base tables pre-existed (see verification).
    return await callFunction<Health>(db, 'api_health($1::text[])', [MIGRATION_NAMES.slice(1)]);
  } catch (error) {
    // Before the migrations that create the route functions (or knex's own table), nothing is current.
    if (UNMIGRATED.has((error as { code?: string }).code ?? '')) throw new UnavailableError('Migrations pending: the database is not migrated');
    throw error;
  }
}

const UNMIGRATED = new Set(['42883', '42P01']); // undefined_function, undefined_table
