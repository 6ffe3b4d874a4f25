/**
 * `npm run migrate:messaging -- --rollback`: removes the four messaging
 * migrations, but first exports the data only they hold (the member audit trail,
 * the conversation ownership history, the message handlers and the members'
 * removal records) to files, so a rollback never silently destroys history.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import knexFactory from 'knex';
import { MESSAGING_MIGRATION_NAMES } from '../../migrations';
import { migrationKnexConfig, MIGRATIONS_TABLE } from '../database/knex-config';
import { PgDatabase } from '../database/pg-adapter';
import type { Database } from '../database/port';

/** Tables and queries exported before anything is dropped; each is read in primary-key pages. */
const EXPORTS = [
  { file: 'company_member_audit.ndjson', table: 'company_member_audit', key: 'id', keyType: 'bigint', columns: '*' },
  { file: 'conversation_ownership_log.ndjson', table: 'conversation_ownership_log', key: 'id', keyType: 'bigint', columns: '*' },
  { file: 'company_message_handlers.ndjson', table: 'company_message_handlers', key: 'id', keyType: 'uuid', columns: '*' },
  // The events outbox (migration 8), published or not: the relay's consumers may need to replay.
  { file: 'messaging_outbox.ndjson', table: 'messaging_outbox', key: 'id', keyType: 'bigint', columns: '*' },
  {
    file: 'seller_membership.ndjson',
    table: 'sellers',
    key: 'id',
    keyType: 'uuid',
    columns: 'id, company_id, member_status, removed_at, removed_by, removal_reason, reactivated_at, reactivated_by',
  },
  {
    file: 'listing_ownership.ndjson',
    table: 'listed_cars',
    key: 'id',
    keyType: 'uuid',
    columns: 'id, seller_id, current_owner_id, current_owner_type, original_seller_id, status',
  },
] as const;

/** Rows per page: node-postgres takes big pages; the Data API answers at most 1 MB per call. */
export const EXPORT_PAGE_ROWS = { pg: 5000, dataApi: 1000 } as const;

export interface ExportSummary {
  readonly directory: string;
  readonly rows: Record<string, number>;
}

async function columnExists(db: Database, table: string, column: string): Promise<boolean> {
  const rows = await db.query(
    'SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2',
    [table, column],
  );
  return rows.length > 0;
}

/**
 * Writes each export as NDJSON, one row per line as PostgreSQL renders it (row_to_json: the same
 * text whichever adapter reads it), all from one read-only snapshot, so the files agree with each
 * other even while the application writes. Over node-postgres locally, over the Data API (as the
 * master user) for a deployed stack.
 */
export async function exportMessagingData(db: Database, directory: string, pageRows: number = EXPORT_PAGE_ROWS.pg): Promise<ExportSummary> {
  const rows: Record<string, number> = {};
  await mkdir(directory, { recursive: true });
  await db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    for (const spec of EXPORTS) {
      const probeColumn = spec.table === 'sellers' ? 'member_status' : spec.table === 'listed_cars' ? 'current_owner_id' : spec.key;
      if (!(await columnExists(tx, spec.table, probeColumn))) continue; // never installed or already removed
      const out = createWriteStream(path.join(directory, spec.file));
      let count = 0;
      let after: string | null = null;
      for (;;) {
        const page: { line: string; key: string }[] = await tx.query<{ line: string; key: string }>(
          `SELECT row_to_json(x)::text AS line, x.${spec.key}::text AS key
             FROM (SELECT ${spec.columns} FROM ${spec.table} WHERE ($1::${spec.keyType} IS NULL OR ${spec.key} > $1::${spec.keyType})
                    ORDER BY ${spec.key} LIMIT ${pageRows}) x
            ORDER BY x.${spec.key}`,
          [after],
        );
        for (const row of page) {
          if (!out.write(`${row.line}\n`)) await once(out, 'drain');
        }
        count += page.length;
        if (page.length < pageRows) break;
        after = page.at(-1)!.key;
      }
      out.end();
      await once(out, 'finish');
      rows[spec.table] = count;
    }
  });
  return { directory, rows };
}

/** Rolls back the applied messaging migrations newest first (the baseline stays: it drops nothing anyway); returns their names. */
export async function rollBackAppliedMigrations(connectionString: string, log: (line: string) => void = () => undefined): Promise<string[]> {
  const knex = knexFactory(migrationKnexConfig(connectionString));
  const rolledBack: string[] = [];
  try {
    const applied = new Set(
      (await knex.schema.hasTable(MIGRATIONS_TABLE))
        ? (await knex(MIGRATIONS_TABLE).select('name')).map((r: { name: string }) => r.name)
        : [],
    );
    for (const name of [...MESSAGING_MIGRATION_NAMES].reverse()) {
      if (!applied.has(name)) continue;
      log(`Rolling back ${name} ...`);
      await knex.migrate.down({ name });
      rolledBack.push(name);
    }
  } finally {
    await knex.destroy();
  }
  return rolledBack;
}

export interface RollbackResult {
  readonly export: ExportSummary;
  readonly rolledBack: readonly string[];
}

/** Exports, then rolls back the applied messaging migrations (`npm run migrate:messaging -- --rollback`). */
export async function rollbackMessagingMigrations(
  connectionString: string,
  exportDirectory: string,
  log: (line: string) => void = () => undefined,
): Promise<RollbackResult> {
  const db = new PgDatabase(connectionString, { max: 1, applicationName: 'ems-export' });
  let summary: ExportSummary;
  try {
    summary = await exportMessagingData(db, exportDirectory);
  } finally {
    await db.close();
  }
  log(`Exported the messaging history to ${summary.directory} (${Object.entries(summary.rows).map(([t, n]) => `${t}: ${n}`).join(', ')}).`);
  return { export: summary, rolledBack: await rollBackAppliedMigrations(connectionString, log) };
}
