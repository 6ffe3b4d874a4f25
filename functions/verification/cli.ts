/**
 * `npm run verify [-- --json] [--stack <Data stack>]`: the shared verification against
 * DATABASE_URL or the embedded database, or, with --stack, against a deployed stack's database
 * through the Data API as its read-only verification user. Exit codes:
 * functions/shared/command-line.ts (1: a check failed).
 */
import type { Database } from '../database/port';
import { resolveReachableDatabaseUrl } from '../database/reachability';
import { EXIT_CANNOT_CONNECT, EXIT_FAILED, EXIT_OK, parseCommandLine, runCommandLine, UsageError } from '../shared/command-line';
import { checkEnvironment, databaseSettings, idTypeSetting, migrationSettings } from '../shared/config';

const USAGE = `usage: npm run verify -- [--json] [--stack <Data stack>]

Runs the verification (the guide's post-migration queries, functions, triggers, indexes,
migration status and checksums, database roles, the routing invariant) on DATABASE_URL, or on
the embedded development database when it is unset. Changes nothing.

  --stack <name>  a deployed Data stack instead (EnhancedMessaging-<stage>-Data): through the RDS
                  Data API, as the stack's read-only verification user, with the AWS credentials
                  and region of the environment (AWS_PROFILE, AWS_REGION); needs
                  cloudformation:DescribeStacks, rds-data:ExecuteStatement and a read of the
                  VerifierUserSecretArn secret
  --json          print the report as JSON
  -h, --help      this text`;

async function localDatabase(): Promise<Database & { close(): Promise<void> }> {
  // What it reads (the migrations' modules, which it loads, read their tunables): all checked first.
  checkEnvironment(databaseSettings, migrationSettings);
  const url = await resolveReachableDatabaseUrl();
  const { PgDatabase } = await import('../database/pg-adapter');
  return new PgDatabase(url, { max: 2, applicationName: 'ems-verify' });
}

async function main(): Promise<number> {
  const { values } = parseCommandLine({ options: { json: { type: 'boolean' }, stack: { type: 'string' } } });
  let db: Database & { close?(): Promise<void> };
  if (values.stack !== undefined) {
    const { isStackName, StackRefusedError } = await import('../shared/deployed-stack');
    if (!isStackName(values.stack)) throw new UsageError(`'${values.stack}' is not a stack name.`);
    checkEnvironment(migrationSettings);
    const { deployedReadOnlyDatabase } = await import('../database/deployed-database');
    try {
      db = await deployedReadOnlyDatabase(values.stack);
    } catch (error) {
      if (!(error instanceof StackRefusedError)) throw error;
      process.stderr.write(`${error.message}\n`);
      return EXIT_CANNOT_CONNECT;
    }
  } else {
    db = await localDatabase();
  }
  const { formatReport, verifyInstallation } = await import('./verify');
  try {
    const report = await verifyInstallation(db, { idType: idTypeSetting() });
    const title = values.stack ? `Enhanced messaging verification of ${values.stack}` : 'Enhanced messaging verification';
    console.log(values.json ? JSON.stringify(report, null, 2) : `${title}\n${formatReport(report)}`);
    return report.ok ? EXIT_OK : EXIT_FAILED;
  } finally {
    await db.close?.();
  }
}

runCommandLine(USAGE, main, 'Verification could not run');
