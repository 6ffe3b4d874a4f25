/** `npm run verify [-- --json]`: the shared verification against DATABASE_URL or the embedded database. */
import { PgDatabase } from '../database/pg-adapter';
import { resolveDatabaseUrl } from '../database/local-postgres';
import { formatReport, verifyInstallation } from './verify';

async function main(): Promise<number> {
  const json = process.argv.includes('--json');
  const db = new PgDatabase(await resolveDatabaseUrl(), { max: 2, applicationName: 'ems-verify' });
  try {
    const report = await verifyInstallation(db);
    console.log(json ? JSON.stringify(report, null, 2) : `Enhanced messaging verification\n${formatReport(report)}`);
    return report.ok ? 0 : 1;
  } finally {
    await db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`Verification could not run: ${error.message}`);
    process.exit(2);
  },
);
