/**
 * The guide's migration commands against a deployed stack (`npm run migrate:messaging -- --stack
 * <Data stack> [status|list|migrate|up|down] [name]`, `--dry-run`): the cluster sits in isolated subnets, so
 * they run in the stack's migration Lambda, invoked with an operator action
 * (functions/handlers/migrate.ts). `migrate` works in slices like the deploy does: the command
 * invokes again while the answer is "not complete". The caller needs cloudformation:DescribeStacks
 * on the Data stack and lambda:InvokeFunction on its migration function (output MigrationFunctionName).
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { RDSDataClient } from '@aws-sdk/client-rds-data';
import { operatorDatabase } from '../database/deployed-database';
import { ROLLBACK_CONFIRMATION, type OperatorAction, type OperatorResponse } from '../handlers/migrate';
import { EXPORT_PAGE_ROWS, exportMessagingData, type RollbackResult } from './rollback';
import { EXIT_FAILED, EXIT_OK } from '../shared/command-line';
import { DATA_STACK_OUTPUTS, readStackOutputs, requireOutputs } from '../shared/deployed-stack';

export interface RemoteOptions {
  readonly cloudFormation?: CloudFormationClient;
  readonly lambda?: LambdaClient;
  /** The rollback's export reads through the Data API. */
  readonly dataApi?: RDSDataClient;
  readonly log?: (line: string) => void;
  /** dry-run: the plan as JSON. */
  readonly json?: boolean;
  /** How many `migrate` slices before giving up (each is one invocation of up to 15 minutes). */
  readonly maxSlices?: number;
}

/** The function failed (its error, as Lambda reports it); nothing more was attempted. */
export class RemoteActionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemoteActionError';
  }
}

async function invoke(lambda: LambdaClient, functionName: string, action: OperatorAction, name?: string, confirm?: string): Promise<OperatorResponse> {
  const payload = { operatorAction: action, ...(name ? { name } : {}), ...(confirm ? { confirm } : {}) };
  const answer = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: new TextEncoder().encode(JSON.stringify(payload)) }));
  const text = answer.Payload ? new TextDecoder().decode(answer.Payload) : 'null';
  if (answer.FunctionError) {
    const error = JSON.parse(text) as { errorMessage?: string };
    throw new RemoteActionError(`The migration function failed: ${error.errorMessage ?? text}`);
  }
  return JSON.parse(text) as OperatorResponse;
}

function list(title: string, names: readonly string[]): string[] {
  return names.length === 0 ? [`${title}: none`] : [`${title} (${names.length}):`, ...names.map((n) => `  ${n}`)];
}

/** Runs `action` on the stack's database; returns the exit code (0 done, 1 failed). */
export async function runOnStack(stackName: string, action: OperatorAction, name: string | undefined, options: RemoteOptions = {}): Promise<number> {
  const log = options.log ?? ((line: string) => console.log(line));
  const { functionName } = requireOutputs(stackName, await readStackOutputs(stackName, options.cloudFormation), {
    functionName: DATA_STACK_OUTPUTS.migrationFunction,
  });
  // A slice runs up to 15 minutes: no client-side timeout shorter than the function's own.
  const lambda = options.lambda ?? new LambdaClient({});
  // JSON alone on stdout, for the machines that read it.
  if (!(action === 'dry-run' && options.json)) log(`${stackName}: ${action}${name ? ` ${name}` : ''} through ${functionName}`);

  if (action === 'dry-run') {
    const { plan } = await invoke(lambda, functionName, action);
    if (!plan) throw new RemoteActionError(`${functionName} does not know the dry run: deploy this version of the Data stack first.`);
    const { formatDryRun } = await import('./dry-run');
    log(options.json ? JSON.stringify(plan, null, 2) : formatDryRun(plan));
    return plan.ok ? EXIT_OK : EXIT_FAILED;
  }
  if (action !== 'migrate') {
    const answer = await invoke(lambda, functionName, action, name);
    if (answer.changed) log(answer.changed.length ? `${action === 'up' ? 'Applied' : 'Undone'}: ${answer.changed.join(', ')}` : `Nothing to ${action === 'up' ? 'apply' : 'undo'}.`);
    for (const line of [...list('Applied migrations', answer.applied), ...list('Pending migrations', answer.pending)]) log(line);
    return EXIT_OK;
  }

  const maxSlices = options.maxSlices ?? 10;
  for (let slice = 1; slice <= maxSlices; slice += 1) {
    const answer = await invoke(lambda, functionName, 'migrate');
    log(`slice ${slice}: applied ${answer.applied.length ? answer.applied.join(', ') : 'nothing'}${answer.pending.length ? `; still pending: ${answer.pending.join(', ')}` : ''}`);
    if (answer.failure) {
      log(`Migrations failed at ${answer.failure}`);
      return EXIT_FAILED;
    }
    if (answer.complete) {
      for (const check of answer.checks ?? []) log(`  ${check.ok ? '✅' : '❌'} ${check.name}  ${check.detail}`);
      log('Migrations applied and verified.');
      return EXIT_OK;
    }
    if (answer.checks?.some((c) => !c.ok) && answer.pending.length === 0) {
      for (const check of answer.checks.filter((c) => !c.ok)) log(`  ❌ ${check.name}  ${check.detail}`);
      log('Verification FAILED.');
      return EXIT_FAILED;
    }
  }
  log(`Not complete after ${maxSlices} slices; run the command again to carry on (every step is resumable).`);
  return EXIT_FAILED;
}

/**
 * `npm run migrate:messaging -- --stack <Data stack> --rollback`: exports the messaging history to
 * `directory` first, through the Data API as the master user (the export reads the removal records,
 * which the verification user may not), in one read-only snapshot; then the migration Lambda rolls
 * the messaging migrations back. Needs, besides the migration function, rds-data:BeginTransaction,
 * ExecuteStatement and CommitTransaction on the cluster and a read of the DatabaseSecretArn secret.
 */
export async function rollbackOnStack(stackName: string, directory: string, options: RemoteOptions = {}): Promise<RollbackResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const outputs = requireOutputs(stackName, await readStackOutputs(stackName, options.cloudFormation), {
    clusterArn: DATA_STACK_OUTPUTS.clusterArn,
    databaseName: DATA_STACK_OUTPUTS.databaseName,
    secretArn: DATA_STACK_OUTPUTS.masterSecretArn,
    functionName: DATA_STACK_OUTPUTS.migrationFunction,
  });
  const db = operatorDatabase(outputs, options.dataApi);
  let summary;
  try {
    summary = await exportMessagingData(db, directory, EXPORT_PAGE_ROWS.dataApi);
  } finally {
    await db.close();
  }
  log(`Exported the messaging history of ${stackName} to ${summary.directory} (${Object.entries(summary.rows).map(([t, n]) => `${t}: ${n}`).join(', ')}).`);
  const answer = await invoke(options.lambda ?? new LambdaClient({}), outputs.functionName, 'rollback', undefined, ROLLBACK_CONFIRMATION);
  return { export: summary, rolledBack: answer.changed ?? [] };
}
