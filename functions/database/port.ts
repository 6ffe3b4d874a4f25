/**
 * The one database port the domain, the verification and the handlers depend on.
 * Adapters: `pg-adapter.ts` (node-postgres: local, tests, migration Lambda) and,
 * in AWS, the RDS Data API adapter. SQL uses PostgreSQL's positional `$1` parameters.
 */
export type Row = Record<string, unknown>;

export interface Database {
  query<T extends object = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs `work` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(work: (tx: Database) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
