/**
 * The floor the API handlers' cold start is judged against (bench step g): the least a Lambda
 * function answering from the database can do. It loads the AWS SDK's Data API client and makes one
 * ExecuteStatement, with nothing of ours around it. Bundled like the handlers.
 */
import { ExecuteStatementCommand, RDSDataClient } from '@aws-sdk/client-rds-data';

const client = new RDSDataClient({});

export async function handler(): Promise<{ statusCode: number; body: string }> {
  const result = await client.send(
    new ExecuteStatementCommand({
      resourceArn: process.env.DATA_API_RESOURCE_ARN,
      secretArn: process.env.DATA_API_SECRET_ARN,
      database: process.env.DATA_API_DATABASE,
      sql: 'SELECT 1 AS one',
    }),
  );
  return { statusCode: 200, body: JSON.stringify(result.records ?? []) };
}
