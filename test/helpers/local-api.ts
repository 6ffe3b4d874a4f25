/** The local API in-process, on a fresh migrated database with the demo data: for HTTP-level tests. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { useDatabase } from '../../functions/database/from-config';
import type { Database } from '../../functions/database/port';
import { loadDemoData, type DemoData } from '../../functions/local/demo-data';
import { localTokens, type LocalTokens } from '../../functions/local/jwt';
import { startLocalServer, type LocalServer } from '../../functions/local/server';
import { resetConfig } from '../../functions/shared/config';
import { databaseThrough, type Adapter } from './adapters';
import type { DataApiEndpoint } from './data-api-endpoint';
import { createMigratedDatabase, type TestDatabase } from './database';

export interface LocalApi {
  /** The database over node-postgres: for setting up and observing (under 'data-api' not what the handlers use). */
  readonly t: TestDatabase;
  readonly server: LocalServer;
  readonly tokens: LocalTokens;
  /** What the handlers run on. */
  readonly db: Database;
  /** The local Data API endpoint the handlers call (adapter 'data-api' only). */
  readonly endpoint?: DataApiEndpoint;
  /** The demo data, with the ids the database gave it. */
  readonly demo: DemoData;
  close(): Promise<void>;
}

/** The handlers run on `adapter` (default node-postgres); `onEventsWritten` as the local server takes it. */
export async function startLocalApi(options: { adapter?: Adapter; onEventsWritten?: () => void } = {}): Promise<LocalApi> {
  const t = await createMigratedDatabase();
  const demo = await loadDemoData(t.db);
  // The handlers log in as the API's user, as in AWS: they may call the route functions, nothing else.
  process.env.DATABASE_URL = t.apiUrl;
  resetConfig();
  const through = await databaseThrough(options.adapter ?? 'pg', t, { as: 'api' });
  useDatabase(through.db);
  const keyDir = await mkdtemp(path.join(os.tmpdir(), 'ems-jwt-'));
  const tokens = await localTokens(path.join(keyDir, 'key.json'));
  const server = await startLocalServer({ port: 0, tokens, onEventsWritten: options.onEventsWritten });
  return {
    t,
    server,
    tokens,
    db: through.db,
    endpoint: through.endpoint,
    demo,
    close: async () => {
      await server.close();
      await through.close();
      await t.drop();
      await rm(keyDir, { recursive: true, force: true });
    },
  };
}
