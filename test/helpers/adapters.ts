/**
 * The two adapters of the `Database` port the API's handlers and services run on, for tests that
 * run through both: node-postgres (local, tests, `npm start`) and the RDS Data API (AWS), the
 * latter driven through the real AWS SDK client against the local Data API endpoint.
 */
import { DataApiDatabase } from '../../functions/database/data-api-adapter';
import { PgDatabase } from '../../functions/database/pg-adapter';
import type { Database } from '../../functions/database/port';
import { LOCAL_RESOURCE_ARN, LOCAL_SECRET_ARN, startDataApiEndpoint, type DataApiEndpoint } from './data-api-endpoint';
import type { TestDatabase } from './database';

export type Adapter = 'pg' | 'data-api';
export const ADAPTERS: readonly Adapter[] = ['pg', 'data-api'];

export interface AdapterDatabase {
  /** `t.db` itself for 'pg'; the Data API adapter on `t`'s database for 'data-api'. */
  readonly db: Database;
  /** The local Data API endpoint the adapter calls ('data-api' only): its `requests` show what reached it. */
  readonly endpoint?: DataApiEndpoint;
  /** Stops the endpoint (the database itself stays: `t.drop()`). */
  close(): Promise<void>;
}

/**
 * `as: 'api'` logs in as the API's user (member of ems_route_caller, as in AWS), which may call the
 * route functions and nothing else; `as: 'verifier'` as the scheduled verification's (member of
 * ems_reader, which only reads); by default as the admin user, which the domain services need.
 */
export async function databaseThrough(adapter: Adapter, t: TestDatabase, options: { as?: 'admin' | 'api' | 'verifier' } = {}): Promise<AdapterDatabase> {
  const url = options.as === 'api' ? t.apiUrl : options.as === 'verifier' ? t.verifierUrl : t.url;
  if (adapter === 'pg') {
    if (url === t.url) return { db: t.db, close: async () => undefined };
    const db = new PgDatabase(url, { max: 8, applicationName: `ems-test-${options.as}` });
    return { db, close: () => db.close() };
  }
  const endpoint = await startDataApiEndpoint({ connectionString: url });
  const db = new DataApiDatabase({ resourceArn: LOCAL_RESOURCE_ARN, secretArn: LOCAL_SECRET_ARN, database: t.name, client: endpoint.client() });
  return { db, endpoint, close: () => endpoint.close() };
}
