/**
 * A deployed stack's database for the command lines' `--stack`, through the RDS Data API with the
 * caller's AWS credentials (the cluster sits in isolated subnets: the Data API is the way in from
 * a laptop). As the read-only verification user: what the commands that only read need. The caller
 * needs cloudformation:DescribeStacks on the Data stack, rds-data:ExecuteStatement on the cluster
 * and secretsmanager:GetSecretValue on the VerifierUserSecretArn secret.
 */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { RDSDataClient } from '@aws-sdk/client-rds-data';
import { DATA_STACK_OUTPUTS, readStackOutputs, requireOutputs } from '../shared/deployed-stack';
import { DataApiDatabase } from './data-api-adapter';
import { connectionFailureReason, DatabaseUnreachableError } from './reachability';

export interface DeployedDatabaseOptions {
  readonly cloudFormation?: CloudFormationClient;
  readonly dataApi?: RDSDataClient;
}

/** The Data API to a deployed cluster as the user of `secretArn`, for an operator's command. */
export function operatorDatabase(target: { clusterArn: string; databaseName: string; secretArn: string }, dataApi?: RDSDataClient): DataApiDatabase {
  return new DataApiDatabase({
    resourceArn: target.clusterArn,
    secretArn: target.secretArn,
    database: target.databaseName,
    ...(dataApi ? { client: dataApi } : {}),
    // A paused cluster resumes in seconds; an operator can wait a little longer than an API caller.
    retry: { maxTotalWaitMs: 60_000 },
  });
}

export async function deployedReadOnlyDatabase(stackName: string, options: DeployedDatabaseOptions = {}): Promise<DataApiDatabase> {
  const outputs = requireOutputs(stackName, await readStackOutputs(stackName, options.cloudFormation), {
    clusterArn: DATA_STACK_OUTPUTS.clusterArn,
    databaseName: DATA_STACK_OUTPUTS.databaseName,
    secretArn: DATA_STACK_OUTPUTS.verifierSecretArn,
  });
  const db = operatorDatabase(outputs, options.dataApi);
  try {
    await db.query('SELECT 1');
  } catch (error) {
    throw new DatabaseUnreachableError(
      { host: `the Data API of ${outputs.clusterArn}`, port: 443, database: outputs.databaseName },
      connectionFailureReason(error),
      { cause: error },
    );
  }
  return db;
}
