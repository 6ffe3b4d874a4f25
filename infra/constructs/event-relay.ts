/**
 * Ownership and membership events on an EventBridge bus: the stack's bus, the relay Lambda that
 * publishes the outbox to it every minute and right after the API's membership writes
 * (functions/handlers/event-relay.ts, through the Data API as its own login user), and the alarms:
 * an event older than EVENT_BACKLOG_ALARM_SECONDS still unpublished, an event dead-lettered, the
 * relay failing.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as logs from 'aws-cdk-lib/aws-logs';
import { LambdaDestination } from 'aws-cdk-lib/aws-logs-destinations';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEAD_LETTERED_EVENTS_METRIC, OLDEST_PENDING_EVENT_METRIC } from '../../functions/events/relay-metrics';
import { EVENTS_PENDING_LOG_FIELD } from '../../functions/events/wake-up';
import { notifyingAlarm } from './alarms';
import { grantDataApiAs } from './messaging-database';
import { METRICS_NAMESPACE, ProjectFunction, SERVICE_NAME } from './project-function';

/**
 * What the relay's subscription filters match in a route's log: the 'request handled' line of an
 * answer that may have written events (functions/events/wake-up.ts). Rendered
 * `{ $.eventsMayBePending IS TRUE }`.
 */
export const EVENTS_PENDING_FILTER_PATTERN = logs.FilterPattern.booleanValue(`$.${EVENTS_PENDING_LOG_FIELD}`, true);

/** The backlog alarm: an event still unpublished this long after it happened (with the relay every minute). */
export const EVENT_BACKLOG_ALARM_SECONDS = 10 * 60;

/** The backlog alarm's threshold for a relay scheduled every `minutes`: two runs missed, 10 minutes at least. */
export function backlogAlarmSeconds(minutes: number): number {
  return Math.max(EVENT_BACKLOG_ALARM_SECONDS, 2 * minutes * 60);
}

export interface EventRelayProps {
  readonly busName: string;
  /** Minutes between scheduled runs. */
  readonly scheduleMinutes: number;
  readonly cluster: rds.IDatabaseCluster;
  /** The relay's login user (member of ems_event_relay: reads, marks and prunes the outbox only). */
  readonly secret: secretsmanager.ISecret;
  readonly environment: Record<string, string>;
  readonly alarmTopic: sns.ITopic;
  /** Where an undeliverable schedule event or failed invocation goes. */
  readonly deadLetters: sqs.IQueue;
  /** Destroyed with the stack (dev), or kept with its consumers' rules. */
  readonly removalPolicy: RemovalPolicy;
}

export class EventRelay extends Construct {
  readonly bus: events.EventBus;
  readonly handler: ProjectFunction;
  readonly backlogAlarm: cloudwatch.Alarm;
  readonly deadLetteredAlarm: cloudwatch.Alarm;
  readonly errorsAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: EventRelayProps) {
    super(scope, id);
    this.bus = new events.EventBus(this, 'Bus', { eventBusName: props.busName, description: 'Enhanced Messaging ownership and membership events' });
    this.bus.applyRemovalPolicy(props.removalPolicy);

    this.handler = new ProjectFunction(this, 'Handler', {
      entry: 'functions/handlers/event-relay.ts',
      description: 'Publishes the ownership and membership events outbox to the EventBridge bus',
      timeout: Duration.seconds(50),
      environment: { ...props.environment, EVENT_BUS_NAME: this.bus.eventBusName },
      deadLetterQueue: props.deadLetters,
      // One relay at a time: a schedule can fire twice, and two relays would publish the same events
      // twice (allowed: at least once) and race on a failing event's tries.
      reservedConcurrentExecutions: 1,
    });
    grantDataApiAs(this.handler, props.cluster, props.secret);
    this.bus.grantPutEventsTo(this.handler);

    const rule = new events.Rule(this, 'Schedule', {
      description: 'Runs the event relay',
      schedule: events.Schedule.rate(Duration.minutes(props.scheduleMinutes)),
    });
    rule.addTarget(new targets.LambdaFunction(this.handler.function, { deadLetterQueue: props.deadLetters, retryAttempts: 0, maxEventAge: Duration.minutes(2) }));

    const metric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: SERVICE_NAME }, statistic, period: Duration.minutes(5) });
    const backlogSeconds = backlogAlarmSeconds(props.scheduleMinutes);
    const topic = props.alarmTopic;
    this.backlogAlarm = notifyingAlarm(this, 'EventBacklogAlarm', {
      description: `An ownership or membership event has waited over ${backlogSeconds / 60} minutes to be published (OldestPendingEventAge; see the relay's log).`,
      metric: metric(OLDEST_PENDING_EVENT_METRIC, cloudwatch.Stats.MAXIMUM),
      threshold: backlogSeconds,
      // No data means the relay did not run: its errors alarm says so.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      topic,
    });
    this.deadLetteredAlarm = notifyingAlarm(this, 'EventsDeadLetteredAlarm', {
      description: 'Events were dead-lettered: the bus refused them past the relay\'s tries (messaging_outbox rows with dead_lettered_at, last_error says why).',
      metric: metric(DEAD_LETTERED_EVENTS_METRIC, cloudwatch.Stats.MAXIMUM),
      threshold: 1,
      treatMissingData: cloudwatch.TreatMissingData.IGNORE,
      topic,
    });
    this.errorsAlarm = notifyingAlarm(this, 'EventRelayErrorsAlarm', {
      description: 'The event relay failed (see its log); events wait in the outbox meanwhile.',
      metric: this.handler.function.metricErrors({ period: Duration.minutes(15), statistic: cloudwatch.Stats.SUM }),
      threshold: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      topic,
    });
  }

  /**
   * Runs the relay right after `route`'s function logs an answer that may have written events:
   * a subscription filter on its log group, matching EVENTS_PENDING_FILTER_PATTERN, whose
   * destination is the relay (LambdaDestination also lets logs.amazonaws.com invoke it, from that
   * log group only). Typically a few seconds after the write; the schedule stays the backstop.
   *
   * CloudWatch Logs invokes the relay asynchronously. With its reserved concurrency of 1, an
   * invocation that arrives while a relay runs is throttled, and Lambda's asynchronous queue retries
   * it (from 1 s, backing off to at most 5 min, for up to 6 h: the default maximum event age,
   * kept, since an expired event would go to the dead-letter queue and alarm for nothing); one that
   * finds nothing left to publish just ends. So a burst of writes costs invocations, never a second
   * relay at once. The relay does not read the log lines: any subscription delivery, the control
   * message CloudWatch Logs sends when the filter is created included, means "look at the outbox".
   */
  wakeAfterWritesOf(route: string, fn: ProjectFunction): logs.SubscriptionFilter {
    return fn.logGroup.addSubscriptionFilter('WakeEventRelay', {
      filterName: `wake-event-relay-${route}`,
      filterPattern: EVENTS_PENDING_FILTER_PATTERN,
      destination: new LambdaDestination(this.handler.function),
    });
  }
}
