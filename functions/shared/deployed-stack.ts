/**
 * What the command lines need from a deployed stack: its CloudFormation outputs, read with the
 * caller's AWS credentials and region (AWS_PROFILE, AWS_REGION). The output names are the stacks'
 * own (infra/stateful-stack.ts, infra/api-stack.ts).
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';

/** Outputs of the Data stack (EnhancedMessaging-<stage>-Data). */
export const DATA_STACK_OUTPUTS = {
  clusterArn: 'ClusterArn',
  databaseName: 'DatabaseName',
  verifierSecretArn: 'VerifierUserSecretArn',
  masterSecretArn: 'DatabaseSecretArn',
  migrationFunction: 'MigrationFunctionName',
} as const;

/** The stack cannot serve the command (missing, or without the outputs it needs); nothing was changed. */
export class StackRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StackRefusedError';
  }
}

const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

export function isStackName(name: string): boolean {
  return STACK_NAME.test(name);
}

export async function readStackOutputs(stackName: string, client: CloudFormationClient = new CloudFormationClient({})): Promise<Record<string, string>> {
  try {
    const { Stacks } = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    return Object.fromEntries((Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  } catch (error) {
    if ((error as { name?: string }).name === 'ValidationError') {
      throw new StackRefusedError(`No stack named ${stackName} (in this account and region): ${(error as Error).message}`);
    }
    throw error;
  }
}

/** The named outputs, or a refusal naming the ones missing (a stack of another version, or the API stack given for the Data stack). */
export function requireOutputs<K extends string>(stackName: string, outputs: Record<string, string>, names: Record<K, string>): Record<K, string> {
  const missing = Object.values<string>(names).filter((name) => !outputs[name]);
  if (missing.length > 0) {
    throw new StackRefusedError(
      `${stackName} has no ${missing.join(', ')} output${missing.length > 1 ? 's' : ''}: give the Data stack (EnhancedMessaging-<stage>-Data) of this version.`,
    );
  }
  return Object.fromEntries(Object.entries<string>(names).map(([key, name]) => [key, outputs[name]!])) as Record<K, string>;
}
