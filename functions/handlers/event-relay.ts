/**
 * The event relay Lambda (every minute, EventBridge schedule, and right after the API's membership
 * writes, through their log groups' subscription filters: functions/events/wake-up.ts): publishes
 * the events outbox to the stack's bus (functions/events/relay.ts) through the Data API as its own
 * login user, and reports what it did as EMF metrics, which the stack's alarms watch: the age of
 * the oldest event still to publish, and the events dead-lettered.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { getDatabase } from '../database/from-config';
import { eventBridgePublisher } from '../events/publishers';
import { relayOutbox, type RelayResult } from '../events/relay';
import { DEAD_LETTERED_EVENTS_METRIC, EVENTS_FAILED_METRIC, EVENTS_PUBLISHED_METRIC, OLDEST_PENDING_EVENT_METRIC } from '../events/relay-metrics';
import { eventRelaySettings } from '../shared/config';
import { logger, metrics, startInvocation } from '../shared/observability';

// Validated when the function loads: a missing bus name fails the cold start with its name.
const settings = eventRelaySettings();
// Built while the function initializes, as AWS advises for SDK clients.
const publish = eventBridgePublisher(new EventBridgeClient({}), settings.busName);

export function publishRelayMetrics(result: RelayResult, target = metrics): void {
  target.addMetric(EVENTS_PUBLISHED_METRIC, MetricUnit.Count, result.published.length);
  target.addMetric(EVENTS_FAILED_METRIC, MetricUnit.Count, result.failed.length + result.deadLettered.length);
  target.addMetric(DEAD_LETTERED_EVENTS_METRIC, MetricUnit.Count, result.deadLetteredTotal);
  target.addMetric(OLDEST_PENDING_EVENT_METRIC, MetricUnit.Seconds, result.oldestPendingSeconds);
  target.publishStoredMetrics();
}

/**
 * What woke the relay: its schedule (EventBridge's scheduled event), or a route's log subscription
 * after an API write (`{ awslogs: { data } }`). The log data is not decoded: which lines matched
 * does not matter, the outbox says what to publish.
 */
const RelayEvent = z.union([
  z.object({ source: z.literal('aws.events'), 'detail-type': z.literal('Scheduled Event') }),
  z.object({ awslogs: z.object({ data: z.string().check(z.minLength(1)) }) }),
]);

export type RelayTrigger = 'schedule' | 'api-write';

export function relayTrigger(event: unknown): RelayTrigger {
  const parsed = RelayEvent.safeParse(event);
  if (!parsed.success) {
    throw new Error('The event relay runs on its schedule\'s event or a CloudWatch Logs subscription\'s ({ awslogs: { data } }); this event is neither');
  }
  return 'awslogs' in parsed.data ? 'api-write' : 'schedule';
}

export async function handler(event: unknown, context?: Context): Promise<RelayResult> {
  startInvocation(context);
  const trigger = relayTrigger(event);
  const db = await getDatabase();
  const result = await relayOutbox(db, publish, { maxAttempts: settings.maxAttempts, retention: settings.retention, maxRows: 500 });
  publishRelayMetrics(result);
  const fields = {
    trigger,
    published: result.published.length,
    failed: result.failed,
    deadLettered: result.deadLettered,
    pruned: result.pruned,
    oldestPendingSeconds: result.oldestPendingSeconds,
  };
  if (result.failed.length > 0 || result.deadLettered.length > 0) logger.warn('events relayed, some not', fields);
  else logger.info('events relayed', fields);
  return result;
}
