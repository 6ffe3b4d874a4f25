/**
 * The database of a running function, built once per process from the
 * configuration: node-postgres with DATABASE_URL, the RDS Data API otherwise.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { config } from '../shared/config';
import { metrics } from '../shared/observability';
import { DataApiDatabase, type DataApiCallEvent } from './data-api-adapter';
import type { Database } from './port';

let database: Promise<Database> | undefined;

export function getDatabase(): Promise<Database> {
  database ??= (async () => {
    const c = config();
    if (c.DATABASE_URL) {
      // Loaded only here: the deployed functions, which have no DATABASE_URL, do not even bundle node-postgres.
      const { PgDatabase } = await import('./pg-adapter');
      return new PgDatabase(c.DATABASE_URL, { max: 10, applicationName: 'ems-api' });
    }
    return new DataApiDatabase({
      resourceArn: c.DATA_API_RESOURCE_ARN!,
      secretArn: c.DATA_API_SECRET_ARN!,
      database: c.DATA_API_DATABASE!,
      // Waiting for an auto-paused cluster must fit inside API Gateway's 30 s integration timeout.
      retry: { maxTotalWaitMs: 20_000 },
      observe: countDataApiCall,
    });
  })();
  return database;
}

/** EMF metrics of the Data API's own trouble (the dashboard's Database row). */
export const DATA_API_RETRIES_METRIC = 'DataApiRetries';
export const DATA_API_ERRORS_METRIC = 'DataApiErrors';

/**
 * One metric per retry or service error, dimension `errorType` (the Data API's exception), flushed at
 * once on its own: it neither waits for nor mixes with the request's stored metrics.
 */
export function countDataApiCall(event: DataApiCallEvent, target = metrics): void {
  const single = target.singleMetric();
  single.addDimension('errorType', event.errorType);
  single.addMetric(event.kind === 'retry' ? DATA_API_RETRIES_METRIC : DATA_API_ERRORS_METRIC, MetricUnit.Count, 1);
}

/** Local server and tests: use this database instead of building one. */
export function useDatabase(db: Database): void {
  database = Promise.resolve(db);
}
