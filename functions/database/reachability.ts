/**
 * Whether a command can reach its database, said once and plainly: the host,
 * the port and the reason (never the password).
 */
import pg from 'pg';

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused, nothing listens there',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset by the server',
};

export interface DatabaseTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
}

/** Host, port and database of a connection URL (the password stays out). */
export function databaseTarget(connectionString: string): DatabaseTarget {
  try {
    const url = new URL(connectionString);
    const host = decodeURIComponent(url.hostname || url.searchParams.get('host') || 'localhost');
    const port = Number(url.port || url.searchParams.get('port') || 5432);
    const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || decodeURIComponent(url.username) || 'postgres';
    return { host: host.replace(/^\[(.*)\]$/, '$1'), port, database };
  } catch {
    return { host: 'unknown host', port: 5432, database: 'unknown' };
  }
}

/** The reason a connection failed, in one line. */
export function connectionFailureReason(error: unknown): string {
  const e = error as { code?: string; message?: string; errors?: { code?: string; message?: string }[] } | null;
  const code = e?.code ?? e?.errors?.find((inner) => inner.code)?.code;
  if (code && NETWORK_REASONS[code]) return `${NETWORK_REASONS[code]} (${code})`;
  const message = (e?.message || e?.errors?.map((inner) => inner.message).join('; ') || String(error)).split('\n')[0]!.trim();
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

/** The database cannot be reached: the command stops before doing anything (exit code 3). */
export class DatabaseUnreachableError extends Error {
  constructor(
    readonly target: DatabaseTarget,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Cannot connect to the database ${target.database} at ${target.host}:${target.port}: ${reason}.`, options);
    this.name = 'DatabaseUnreachableError';
  }
}

/** Connects once and runs `SELECT 1`; throws DatabaseUnreachableError when that fails. */
export async function assertDatabaseReachable(connectionString: string, timeoutMs = 10_000): Promise<void> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: timeoutMs, application_name: 'ems-probe' });
  // A server that drops the connection later is not this probe's concern.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new DatabaseUnreachableError(databaseTarget(connectionString), connectionFailureReason(error), { cause: error });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The database of a command (DATABASE_URL, or the embedded development cluster, started on
 * demand), once it answers; DatabaseUnreachableError when it does not.
 */
export async function resolveReachableDatabaseUrl(): Promise<string> {
  const { localDatabaseFor, resolveDatabaseUrl } = await import('./local-postgres');
  const { databaseSettings, idTypeSetting } = await import('../shared/config');
  const settings = databaseSettings();
  let url: string;
  try {
    url = await resolveDatabaseUrl();
  } catch (error) {
    const target = settings.databaseUrl
      ? databaseTarget(settings.databaseUrl)
      : { host: '127.0.0.1', port: settings.localPgPort, database: localDatabaseFor(idTypeSetting()) };
    throw new DatabaseUnreachableError(target, connectionFailureReason(error), { cause: error });
  }
  await assertDatabaseReachable(url);
  return url;
}
