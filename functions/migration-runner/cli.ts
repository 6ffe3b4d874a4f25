/**
 * `npm run migrate:messaging [-- --json] [-- --with-base-schema]`
 * `npm run migrate:messaging -- --rollback [--yes] [--export-dir DIR]`
 * On the embedded development database the base marketplace schema is created
 * when absent; against DATABASE_URL it must already exist unless asked.
 */
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { PROJECT_ROOT, resolveDatabaseUrl } from '../database/local-postgres';
import { formatReport } from '../verification/verify';
import { rollbackMessagingMigrations } from './rollback';
import { runMessagingMigrations, withRunnerLock, type RunnerReport } from './runner';

function option(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

async function confirmed(question: string): Promise<boolean> {
  if (process.argv.includes('--yes')) return true;
  if (!process.stdin.isTTY) {
    console.error('Refusing to roll back without confirmation: pass --yes when running without a terminal.');
    return false;
  }
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await prompt.question(question)).trim().toLowerCase() === 'yes';
  } finally {
    prompt.close();
  }
}

async function rollback(): Promise<number> {
  const connectionString = await resolveDatabaseUrl();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const directory = path.resolve(option('--export-dir') ?? path.join(PROJECT_ROOT, '.local', 'exports', `messaging-${stamp}`));
  console.log('This removes the four enhanced messaging migrations: the member audit trail, the conversation');
  console.log('ownership history and the message handlers will be dropped from the database.');
  console.log(`They are exported first, to ${directory}.`);
  if (!(await confirmed("Type 'yes' to export and roll back: "))) {
    console.log('Nothing was changed.');
    return 1;
  }
  const result = await withRunnerLock(connectionString, () => rollbackMessagingMigrations(connectionString, directory, (l) => console.log(l)), {
    log: (l) => console.log(l),
  });
  console.log(`Rolled back ${result.rolledBack.length} migration(s). The exported history is in ${result.export.directory}.`);
  return 0;
}

function formatRunnerReport(report: RunnerReport): string {
  const lines = ['', 'Enhanced Messaging System: migration report', `  PostgreSQL        ${report.postgresVersion}`];
  const stoppedEarly = report.failure?.stage === 'preflight' || report.failure?.stage === 'lock';
  if (!stoppedEarly) {
    lines.push(`  Already applied   ${report.alreadyApplied.length ? report.alreadyApplied.join(', ') : 'none'}`);
    if (report.applied.length === 0 && !report.failure) lines.push('  Applied now       nothing (up to date)');
  }
  for (const m of report.applied) lines.push(`  ✅ applied        ${m.name.padEnd(52)} ${String(m.ms).padStart(7)} ms`);
  if (report.verification) lines.push('', 'Verification', formatReport(report.verification));
  if (report.failure) lines.push('', `❌ FAILED during ${report.failure.stage}: ${report.failure.message}`);
  lines.push('', `${report.ok ? '✅ Done' : '❌ Not done'} in ${report.totalMs} ms.`);
  return lines.join('\n');
}

async function main(): Promise<number> {
  if (process.argv.includes('--rollback')) return rollback();
  const json = process.argv.includes('--json');
  const usesEmbedded = !process.env.DATABASE_URL?.trim();
  const report = await runMessagingMigrations({
    connectionString: await resolveDatabaseUrl(),
    createBaseSchema: usesEmbedded || process.argv.includes('--with-base-schema'),
    log: json ? undefined : (line) => console.log(line),
  });
  console.log(json ? JSON.stringify(report, null, 2) : formatRunnerReport(report));
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`Migration runner could not start: ${error.message}`);
    process.exit(2);
  },
);
