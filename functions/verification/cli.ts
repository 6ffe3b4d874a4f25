/**
 * `npm run verify [-- --json]`: the shared verification against DATABASE_URL or the embedded
 * database. Exit codes: functions/shared/command-line.ts (1: a check failed).
 */
import { resolveReachableDatabaseUrl } from '../database/reachability';
import { EXIT_FAILED, EXIT_OK, parseCommandLine, runCommandLine } from '../shared/command-line';
import { checkEnvironment, databaseSettings, migrationSettings } from '../shared/config';

const USAGE = `usage: npm run verify -- [--json]

Runs the verification (the guide's post-migration queries, functions, triggers, indexes,
migration status and checksums, the routing invariant) on DATABASE_URL, or on the embedded
development database when it is unset. Changes nothing.

  --json       print the report as JSON
  -h, --help   this text`;

async function main(): Promise<number> {
  const { values } = parseCommandLine({ options: { json: { type: 'boolean' } } });
  // What it reads (the migrations' modules, which it loads, read their tunables): all checked first.
  checkEnvironment(databaseSettings, migrationSettings);
  const url = await resolveReachableDatabaseUrl();
  const { PgDatabase } = await import('../database/pg-adapter');
  const { formatReport, verifyInstallation } = await import('./verify');
  const db = new PgDatabase(url, { max: 2, applicationName: 'ems-verify' });
  try {
    const report = await verifyInstallation(db);
    console.log(values.json ? JSON.stringify(report, null, 2) : `Enhanced messaging verification\n${formatReport(report)}`);
    return report.ok ? EXIT_OK : EXIT_FAILED;
  } finally {
    await db.close();
  }
}

runCommandLine(USAGE, main, 'Verification could not run');
