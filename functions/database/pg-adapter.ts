import pg from 'pg';
import type { Database, Row } from './port';

// bigint counts (count(*)) arrive as strings by default; the row shapes use numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number(value));

type Queryable = pg.Pool | pg.PoolClient;

class PgTransaction implements Database {
  constructor(private readonly client: pg.PoolClient) {}

  async query<T extends object = Row>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return runQuery<T>(this.client, sql, params);
  }

  async transaction<T>(work: (tx: Database) => Promise<T>): Promise<T> {
    return work(this); // already inside one: nested work joins it
  }

  async close(): Promise<void> {}
}

async function runQuery<T extends object>(target: Queryable, sql: string, params: readonly unknown[]): Promise<T[]> {
  const result = await target.query(sql, params as unknown[]);
  return result.rows as T[];
}

export class PgDatabase implements Database {
  readonly pool: pg.Pool;

  constructor(connectionString: string, options: { max?: number; applicationName?: string } = {}) {
    this.pool = new pg.Pool({
      connectionString,
      max: options.max ?? 10,
      application_name: options.applicationName ?? 'ems',
      connectionTimeoutMillis: 10_000,
    });
    // An idle client losing its server (restart) must not crash the process.
    this.pool.on('error', () => undefined);
  }

  async query<T extends object = Row>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return runQuery<T>(this.pool, sql, params);
  }

  async transaction<T>(work: (tx: Database) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(new PgTransaction(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
