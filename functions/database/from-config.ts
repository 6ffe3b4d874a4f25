/**
 * The database of a running function, built once per process from the
 * configuration: node-postgres with DATABASE_URL, the RDS Data API otherwise.
 */
import { config } from '../shared/config';
import { DataApiDatabase } from './data-api-adapter';
import type { Database } from './port';

let database: Promise<Database> | undefined;

export function getDatabase(): Promise<Database> {
  database ??= (async () => {
    const c = config();
    if (c.DATABASE_URL) {
      // Loaded only here: the deployed functions, which have no DATABASE_URL, do not even bundle node-postgres.
      const { PgDatabase } = await import('./pg-adapter');
      return new PgDatabase(c.DATABASE_URL, { max: 10, applicationName: 'ems-api' });
    }
    return new DataApiDatabase({
      resourceArn: c.DATA_API_RESOURCE_ARN!,
      secretArn: c.DATA_API_SECRET_ARN!,
      database: c.DATA_API_DATABASE!,
      // Waiting for an auto-paused cluster must fit inside API Gateway's 30 s integration timeout.
      retry: { maxTotalWaitMs: 20_000 },
    });
  })();
  return database;
}

/** Local server and tests: use this database instead of building one. */
export function useDatabase(db: Database): void {
  database = Promise.resolve(db);
}
