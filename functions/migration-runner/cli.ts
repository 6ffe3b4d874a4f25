/**
 * `npm run migrate:messaging [-- --json] [-- --with-base-schema]`
 * On the embedded development database the base marketplace schema is created
 * when absent; against DATABASE_URL it must already exist unless asked.
 */
import { resolveDatabaseUrl } from '../database/local-postgres';
import { formatReport } from '../verification/verify';
import { runMessagingMigrations, type RunnerReport } from './runner';

function formatRunnerReport(report: RunnerReport): string {
  const lines = ['', 'Enhanced Messaging System: migration report', `  PostgreSQL        ${report.postgresVersion}`];
  lines.push(`  Already applied   ${report.alreadyApplied.length ? report.alreadyApplied.join(', ') : 'none'}`);
  if (report.applied.length === 0) lines.push('  Applied now       nothing (up to date)');
  for (const m of report.applied) lines.push(`  ✅ applied        ${m.name.padEnd(52)} ${String(m.ms).padStart(7)} ms`);
  if (report.verification) lines.push('', 'Verification', formatReport(report.verification));
  if (report.failure) lines.push('', `❌ FAILED during ${report.failure.stage}: ${report.failure.message}`);
  lines.push('', `${report.ok ? '✅ Done' : '❌ Not done'} in ${report.totalMs} ms.`);
  return lines.join('\n');
}

async function main(): Promise<number> {
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
