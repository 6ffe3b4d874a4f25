/**
 * `npm run migrate:messaging [-- --json] [-- --with-base-schema]`
 * `npm run migrate:messaging -- --dry-run [--json] [--with-base-schema]`
 * `npm run migrate:messaging -- --rollback [--yes] [--export-dir DIR]`
 * `npm run migrate:messaging -- --stack <Data stack> [status|list|migrate|up|down] [<migration>]`
 * `npm run migrate:messaging -- --stack <Data stack> --dry-run [--json]`
 * `npm run migrate:messaging -- --stack <Data stack> --rollback [--yes] [--export-dir DIR]`
 * On the embedded development database the base marketplace schema is created
 * when absent; against DATABASE_URL it must already exist unless asked.
 *
 * The arguments and the environment are checked before anything else: `--help`
 * and a usage error never connect to the database. Exit codes: functions/shared/command-line.ts.
 */
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { resolveReachableDatabaseUrl } from '../database/reachability';
import { EXIT_CANNOT_CONNECT, EXIT_FAILED, EXIT_OK, parseCommandLine, runCommandLine, UsageError } from '../shared/command-line';
import { checkEnvironment, databaseSettings, migrationSettings } from '../shared/config';
import type { ProgressEvent } from '../../migrations/lib/progress';
import type { RunnerReport } from './runner';

const USAGE = `usage: npm run migrate:messaging -- [--json] [--with-base-schema]
       npm run migrate:messaging -- --dry-run [--json] [--with-base-schema]
       npm run migrate:messaging -- --rollback [--yes] [--export-dir <dir>]
       npm run migrate:messaging -- --stack <Data stack> [status|list|migrate|up|down] [<migration>]
       npm run migrate:messaging -- --stack <Data stack> --dry-run [--json]
       npm run migrate:messaging -- --stack <Data stack> --rollback [--yes] [--export-dir <dir>]

Applies the pending messaging migrations in order (pre-flight, status, apply, verify, report)
on DATABASE_URL, or on the embedded development database when it is unset.

With --stack <name> (EnhancedMessaging-<stage>-Data) the guide's commands run against that deployed
stack's database, in its migration Lambda (the only thing that reaches the cluster), with the AWS
credentials and region of the environment: status or list (applied and pending), migrate (the
default; in slices until applied and verified), up / down [<migration>] (as npx knex migrate:up /
migrate:down), --dry-run (what migrate would do, read-only), --rollback (the export runs through
the Data API as the master user, then the Lambda rolls back). README: The guide's commands against
a deployed stack.

  --json               print the report as JSON
  --with-base-schema   create the marketplace's base tables on an empty DATABASE_URL database
  --dry-run            change nothing: run the pre-flight and say what would be applied (each pending
                       migration, what it creates, changes and drops, the rows its backfills would
                       change and the tables its index builds would scan); exit 0 if the migrations
                       would run, 1 if the pre-flight refuses
  --rollback           export the audit trail, ownership history and handlers, then remove the
                       messaging migrations (asks first)
  --yes                roll back without asking (needed without a terminal)
  --export-dir <dir>   where the rollback exports to (default .local/exports/messaging-<time>)
  -h, --help           this text

Environment: DATABASE_URL, LOCAL_PG_PORT, MIGRATION_LOCK_TIMEOUT, MIGRATION_STATEMENT_TIMEOUT,
MIGRATION_LOCK_ATTEMPTS, MIGRATION_BATCH_SIZE (README: Migration safety).`;

const SPEC = {
  options: {
    json: { type: 'boolean' },
    'with-base-schema': { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    rollback: { type: 'boolean' },
    yes: { type: 'boolean' },
    'export-dir': { type: 'string' },
    stack: { type: 'string' },
  },
  // With --stack: the action and a migration name.
  positionals: { min: 0, max: 2, names: ['action', 'migration'] },
} as const;

type Values = ReturnType<typeof parseCommandLine<typeof SPEC.options>>['values'];

async function confirmed(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await prompt.question(question)).trim().toLowerCase() === 'yes';
  } finally {
    prompt.close();
  }
}

async function rollback(values: Values): Promise<number> {
  if (values['export-dir'] === '') throw new UsageError('--export-dir needs a directory.');
  if (!values.yes && !process.stdin.isTTY) {
    throw new UsageError('Refusing to roll back without confirmation: pass --yes when running without a terminal. Nothing was changed.');
  }
  const connectionString = await resolveReachableDatabaseUrl();
  const { PROJECT_ROOT } = await import('../database/local-postgres');
  const { rollbackMessagingMigrations } = await import('./rollback');
  const { withRunnerLock } = await import('./runner');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const directory = path.resolve(values['export-dir'] ?? path.join(PROJECT_ROOT, '.local', 'exports', `messaging-${stamp}`));
  console.log('This removes the four enhanced messaging migrations: the member audit trail, the conversation');
  console.log('ownership history and the message handlers will be dropped from the database.');
  console.log(`They are exported first, to ${directory}.`);
  if (!values.yes && !(await confirmed("Type 'yes' to export and roll back: "))) {
    console.log('Nothing was changed.');
    return EXIT_FAILED;
  }
  const result = await withRunnerLock(connectionString, () => rollbackMessagingMigrations(connectionString, directory, (l) => console.log(l)), {
    log: (l) => console.log(l),
  });
  console.log(`Rolled back ${result.rolledBack.length} migration(s). The exported history is in ${result.export.directory}.`);
  return EXIT_OK;
}

function formatRunnerReport(report: RunnerReport, formatReport: (r: NonNullable<RunnerReport['verification']>) => string): string {
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

async function dryRun(values: Values, embedded: boolean): Promise<number> {
  const connectionString = await resolveReachableDatabaseUrl();
  const { planMessagingMigrations, formatDryRun, DryRunLockTimeoutError } = await import('./dry-run');
  let report;
  try {
    report = await planMessagingMigrations({ connectionString, createBaseSchema: embedded || (values['with-base-schema'] ?? false) });
  } catch (error) {
    if (!(error instanceof DryRunLockTimeoutError)) throw error;
    console.error(error.message);
    return EXIT_FAILED;
  }
  console.log(values.json ? JSON.stringify(report, null, 2) : formatDryRun(report));
  return report.ok ? EXIT_OK : EXIT_FAILED;
}

/**
 * The runner's lines on stdout. On a terminal a long step's progress is one line rewritten in place
 * (every second); elsewhere (CI, a file, a pipe) plain lines, one per interval.
 */
function terminalOutput(): { log: (line: string) => void; progress?: (event: ProgressEvent) => void; progressIntervalMs?: number } {
  if (!process.stdout.isTTY) return { log: (line) => console.log(line) };
  let open = false;
  const endProgressLine = () => {
    if (open) process.stdout.write('\n');
    open = false;
  };
  return {
    log: (line) => {
      endProgressLine();
      console.log(line);
    },
    progress: (event) => {
      process.stdout.write(`\r\x1b[K${event.line}`);
      open = true;
      if (event.finished) endProgressLine();
    },
    progressIntervalMs: 1000,
  };
}

const STACK_ACTIONS = { status: 'status', list: 'status', migrate: 'migrate', up: 'up', down: 'down' } as const;

/** The guide's commands against a deployed stack (./remote.ts). */
async function onStack(stackName: string, values: Values, positionals: readonly string[]): Promise<number> {
  const { isStackName, StackRefusedError } = await import('../shared/deployed-stack');
  if (!isStackName(stackName)) throw new UsageError(`'${stackName}' is not a stack name.`);
  if (values['dry-run']) {
    if (positionals.length > 0) throw new UsageError('--dry-run takes no action or migration name: it says what migrate would do.');
    const misplaced = (['with-base-schema', 'rollback', 'yes', 'export-dir'] as const).find((option) => values[option] !== undefined);
    if (misplaced) throw new UsageError(`--${misplaced} does not go with --dry-run --stack.`);
  } else {
    const misplaced = (['json', 'with-base-schema'] as const).find((option) => values[option] !== undefined);
    if (misplaced) throw new UsageError(`--${misplaced} does not go with --stack${misplaced === 'json' ? ' (except with --dry-run)' : ''}.`);
  }
  const [word = 'migrate', name] = positionals;
  const action = Object.hasOwn(STACK_ACTIONS, word) ? STACK_ACTIONS[word as keyof typeof STACK_ACTIONS] : undefined;
  if (values.rollback) {
    if (positionals.length > 0) throw new UsageError('--rollback takes no action or migration name.');
  } else {
    if (!action) throw new UsageError(`'${word}' is not an action: use status, list, migrate, up or down.`);
    if (name !== undefined && action !== 'up' && action !== 'down') throw new UsageError(`A migration name goes with up or down only, not ${word}.`);
    const rollbackOnly = (['yes', 'export-dir'] as const).find((option) => values[option] !== undefined);
    if (rollbackOnly) throw new UsageError(`--${rollbackOnly} only goes with --rollback.`);
  }
  checkEnvironment(migrationSettings);
  const { RemoteActionError, rollbackOnStack, runOnStack } = await import('./remote');
  try {
    if (values.rollback) {
      if (values['export-dir'] === '') throw new UsageError('--export-dir needs a directory.');
      if (!values.yes && !process.stdin.isTTY) {
        throw new UsageError('Refusing to roll back without confirmation: pass --yes when running without a terminal. Nothing was changed.');
      }
      const { PROJECT_ROOT } = await import('../database/local-postgres');
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const directory = path.resolve(values['export-dir'] ?? path.join(PROJECT_ROOT, '.local', 'exports', `${stackName}-${stamp}`));
      console.log(`This removes the messaging migrations from ${stackName}: the member audit trail, the conversation`);
      console.log(`ownership history and the message handlers will be dropped. They are exported first, to ${directory}.`);
      if (!values.yes && !(await confirmed("Type 'yes' to export and roll back: "))) {
        console.log('Nothing was changed.');
        return EXIT_FAILED;
      }
      const result = await rollbackOnStack(stackName, directory);
      console.log(`Rolled back ${result.rolledBack.length} migration(s). The exported history is in ${result.export.directory}.`);
      return EXIT_OK;
    }
    if (values['dry-run']) return await runOnStack(stackName, 'dry-run', undefined, { json: values.json ?? false });
    return await runOnStack(stackName, action!, name);
  } catch (error) {
    if (error instanceof StackRefusedError) {
      console.error(error.message);
      return EXIT_CANNOT_CONNECT;
    }
    if (error instanceof RemoteActionError) {
      console.error(error.message);
      return EXIT_FAILED;
    }
    throw error;
  }
}

async function main(): Promise<number> {
  const { values, positionals } = parseCommandLine(SPEC);
  if (values.stack !== undefined) return onStack(values.stack, values, positionals);
  if (positionals.length > 0) throw new UsageError(`Unexpected argument '${positionals[0]}' (actions go with --stack).`);
  if (!values.rollback) {
    const misplaced = (['yes', 'export-dir'] as const).find((name) => values[name] !== undefined);
    if (misplaced) throw new UsageError(`--${misplaced} only goes with --rollback.`);
  } else {
    const misplaced = (['json', 'with-base-schema', 'dry-run'] as const).find((name) => values[name] !== undefined);
    if (misplaced) throw new UsageError(`--${misplaced} does not go with --rollback.`);
  }
  // Every variable the run reads, checked before the first connection (the migrations read them when they load).
  checkEnvironment(databaseSettings, migrationSettings);
  const { databaseUrl } = databaseSettings();
  if (values.rollback) return rollback(values);
  if (values['dry-run']) return dryRun(values, databaseUrl === undefined);

  const json = values.json ?? false;
  const connectionString = await resolveReachableDatabaseUrl();
  const { runMessagingMigrations } = await import('./runner');
  const { formatReport } = await import('../verification/verify');
  const report = await runMessagingMigrations({
    connectionString,
    createBaseSchema: databaseUrl === undefined || (values['with-base-schema'] ?? false),
    ...(json ? {} : terminalOutput()),
  });
  if (report.failure?.stage === 'connect') {
    console.error(report.failure.message);
    return EXIT_CANNOT_CONNECT;
  }
  console.log(json ? JSON.stringify(report, null, 2) : formatRunnerReport(report, formatReport));
  return report.ok ? EXIT_OK : EXIT_FAILED;
}

runCommandLine(USAGE, main, 'Migration runner failed');
