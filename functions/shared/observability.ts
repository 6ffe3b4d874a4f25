/** The one structured logger and the metrics (EMF) of every function. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { installSourceMappedStackTraces } from './stack-traces';

// In a bundle, __filename is the bundle itself: its logged stack traces point at the sources.
installSourceMappedStackTraces(__filename);

const serviceName = process.env.SERVICE_NAME ?? 'enhanced-messaging';

export const logger = new Logger({ serviceName });
export const metrics = new Metrics({ namespace: 'EnhancedMessaging', serviceName });

/**
 * What Powertools' `injectLambdaContext` and `logMetrics({ captureColdStartMetric: true })` do when an
 * invocation starts, for our plain async handlers: Lambda's context (function_request_id,
 * cold_start, function_name, function_arn, ...) on every log line of the invocation, and the
 * `ColdStart` metric (dimensions service and function_name) on the first invocation of an execution
 * environment. Lambda runs one invocation at a time per environment, so the context set here is the
 * current invocation's until the next one starts.
 *
 * Without a context there is no Lambda (`npm start`'s server, a test calling a handler): nothing to add.
 */
export function startInvocation(context: Context | undefined): void {
  if (!context) return;
  logger.addContext(context);
  metrics.captureColdStartMetric(context.functionName);
}
