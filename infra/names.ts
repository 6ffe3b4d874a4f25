/**
 * Names the functions and the stacks must agree on, kept free of aws-cdk-lib
 * so handler tests can import them cheaply.
 */

/** functions/shared/observability.ts: the Logger's and Metrics' service (also the `service` metric dimension). */
export const SERVICE_NAME = 'enhanced-messaging';
/** functions/shared/observability.ts: the Metrics namespace. */
export const METRICS_NAMESPACE = 'EnhancedMessaging';
