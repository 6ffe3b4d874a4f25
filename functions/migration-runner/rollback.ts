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
import pg from 'pg';
import { MESSAGING_MIGRATION_NAMES } from '../../migrations';
import { migrationKnexConfig, MIGRATIONS_TABLE } from '../database/knex-config';

/** Tables and queries exported before anything is dropped; each is read in primary-key pages. */
const EXPORTS = [
  { file: 'company_member_audit.ndjson', table: 'company_member_audit', key: 'id', keyType: 'bigint', columns: '*' },
  { file: 'conversation_ownership_log.ndjson', table: 'conversation_ownership_log', key: 'id', keyType: 'bigint', columns: '*' },
  { file: 'company_message_handlers.ndjson', table: 'company_message_handlers', key: 'id', keyType: 'uuid', columns: '*' },
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

const PAGE = 5000;

export interface ExportSummary {
  readonly directory: string;
  readonly rows: Record<string, number>;
}

async function columnExists(client: pg.Client, table: string, column: string): Promise<boolean> {
  const { rowCount } = await client.query(
    'SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2',
    [table, column],
  );
  return (rowCount ?? 0) > 0;
}

export async function exportMessagingData(connectionString: string, directory: string): Promise<ExportSummary> {
  const client = new pg.Client({ connectionString, application_name: 'ems-export' });
  await client.connect();
  const rows: Record<string, number> = {};
  try {
    await mkdir(directory, { recursive: true });
    // One snapshot for every file: the export is consistent even while the application writes.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    for (const spec of EXPORTS) {
      const probeColumn = spec.table === 'sellers' ? 'member_status' : spec.table === 'listed_cars' ? 'current_owner_id' : spec.key;
      if (!(await columnExists(client, spec.table, probeColumn))) continue; // never installed or already removed
      const out = createWriteStream(path.join(directory, spec.file));
      let count = 0;
      let after: unknown = null;
      for (;;) {
        const page = await client.query(
          `SELECT ${spec.columns} FROM ${spec.table} WHERE ($1::${spec.keyType} IS NULL OR ${spec.key} > $1::${spec.keyType})
            ORDER BY ${spec.key} LIMIT ${PAGE}`,
          [after === null ? null : String(after)],
        );
        for (const row of page.rows) {
          if (!out.write(`${JSON.stringify(row)}\n`)) await once(out, 'drain');
        }
        count += page.rows.length;
        if (page.rows.length < PAGE) break;
        after = (page.rows.at(-1) as Record<string, unknown>)[spec.key];
      }
      out.end();
      await once(out, 'finish');
      rows[spec.table] = count;
    }
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
  return { directory, rows };
}

export interface RollbackResult {
  readonly export: ExportSummary;
  readonly rolledBack: readonly string[];
}

/** Rolls back the applied messaging migrations newest first; the baseline stays (it drops nothing anyway). */
export async function rollbackMessagingMigrations(
  connectionString: string,
  exportDirectory: string,
  log: (line: string) => void = () => undefined,
): Promise<RollbackResult> {
  const summary = await exportMessagingData(connectionString, exportDirectory);
  log(`Exported the messaging history to ${summary.directory} (${Object.entries(summary.rows).map(([t, n]) => `${t}: ${n}`).join(', ')}).`);
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
  return { export: summary, rolledBack };
}
