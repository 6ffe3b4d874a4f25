/** The local API in-process, on a fresh migrated database with the demo data: for HTTP-level tests. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { useDatabase } from '../../functions/database/from-config';
import { loadDemoData } from '../../functions/local/demo-data';
import { localTokens, type LocalTokens } from '../../functions/local/jwt';
import { startLocalServer, type LocalServer } from '../../functions/local/server';
import { resetConfig } from '../../functions/shared/config';
import { createMigratedDatabase, type TestDatabase } from './database';

export interface LocalApi {
  readonly t: TestDatabase;
  readonly server: LocalServer;
  readonly tokens: LocalTokens;
  close(): Promise<void>;
}

export async function startLocalApi(): Promise<LocalApi> {
  const t = await createMigratedDatabase();
  await loadDemoData(t.db);
  process.env.DATABASE_URL = t.url;
  resetConfig();
  useDatabase(t.db);
  const keyDir = await mkdtemp(path.join(os.tmpdir(), 'ems-jwt-'));
  const tokens = await localTokens(path.join(keyDir, 'key.json'));
  const server = await startLocalServer({ port: 0, tokens });
  return {
    t,
    server,
    tokens,
    close: async () => {
      await server.close();
      await t.drop();
      await rm(keyDir, { recursive: true, force: true });
    },
  };
}
