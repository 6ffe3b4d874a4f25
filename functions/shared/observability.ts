/** The one structured logger and the metrics (EMF) of every function. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

const serviceName = process.env.SERVICE_NAME ?? 'enhanced-messaging';

export const logger = new Logger({ serviceName });
export const metrics = new Metrics({ namespace: 'EnhancedMessaging', serviceName });
