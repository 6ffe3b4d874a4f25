/**
 * Query plans for the benchmark's JSON (and `--explain`): EXPLAIN of the exact
 * statements the product sends, and, where the server allows `LOAD 'auto_explain'`
 * (a superuser, e.g. the embedded cluster), the plans of the statements run
 * inside functions such as get_listing_message_recipient, sent back as notices.
 */
import pg from 'pg';
import type { Database, Row } from '../../functions/database/port';

export interface CapturedPlan {
  readonly sql: string;
  readonly params: readonly unknown[];
  readonly executionMs: number;
  readonly plan: string;
}

const executionTime = (plan: string): number => Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1] ?? Number.NaN);

/** EXPLAIN (ANALYZE, BUFFERS) of one statement, as text. */
export async function explainText(client: pg.Client, sql: string, params: readonly unknown[] = []): Promise<CapturedPlan> {
  const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params as unknown[]);
  const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
  return { sql, params, executionMs: executionTime(plan), plan };
}

/**
 * A `Database` over one connection that records EXPLAIN (ANALYZE, BUFFERS) of every
 * read-only statement before running it, so domain functions (getCompanyStats,
 * identifyCaller) can be explained exactly as they query.
 */
export class ExplainingDatabase implements Database {
  readonly captured: CapturedPlan[] = [];

  constructor(private readonly client: pg.Client) {}

  async query<T extends object = Row>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    if (/^\s*(SELECT|WITH)\b/i.test(sql)) this.captured.push(await explainText(this.client, sql, params));
    const result = await this.client.query(sql, params as unknown[]);
    return result.rows as T[];
  }

  async transaction<T>(work: (tx: Database) => Promise<T>): Promise<T> {
    await this.client.query('BEGIN');
    try {
      const result = await work(this);
      await this.client.query('COMMIT');
      return result;
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {}
}

export interface NestedPlans {
  readonly available: boolean;
  readonly reason?: string;
  /** auto_explain's text: one entry per statement, nested ones included ("Query Text: ..." first). */
  readonly plans: string[];
}

/**
 * Runs `sql` with auto_explain on (analyze, buffers, nested statements, sent as
 * NOTICE) and returns every plan it produced. Needs LOAD privileges; says so when not.
 */
export async function nestedPlans(client: pg.Client, sql: string, params: readonly unknown[] = []): Promise<NestedPlans> {
  try {
    await client.query(`LOAD 'auto_explain'`);
    await client.query(`SET auto_explain.log_min_duration = 0`);
    await client.query(`SET auto_explain.log_analyze = on`);
    await client.query(`SET auto_explain.log_buffers = on`);
    await client.query(`SET auto_explain.log_nested_statements = on`);
    await client.query(`SET auto_explain.log_level = 'notice'`);
  } catch (error) {
    return { available: false, reason: `auto_explain unavailable: ${(error as Error).message}`, plans: [] };
  }
  const notices: string[] = [];
  const onNotice = (notice: { message?: string }) => {
    if (notice.message?.includes('plan:')) notices.push(notice.message);
  };
  client.on('notice', onNotice);
  try {
    await client.query(sql, params as unknown[]);
    // Notices arrive before the statement's result; nothing more is pending.
  } finally {
    client.off('notice', onNotice);
    await client.query('SET auto_explain.log_min_duration = -1').catch(() => undefined);
  }
  return { available: true, plans: notices };
}
