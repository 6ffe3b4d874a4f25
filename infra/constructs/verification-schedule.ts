/**
 * The scheduled verification: an EventBridge schedule runs the verification
 * Lambda; alarms on a red report (the VerificationFailed metric), on the
 * Lambda's errors and on anything dead-lettered notify an SNS topic
 * (customer-managed KMS key, TLS only), with an optional e-mail subscription.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { VERIFICATION_FAILED_METRIC } from '../../functions/handlers/scheduled-verification';
import { acknowledge } from '../nag';
import { notifyingAlarm } from './alarms';
import { grantDataApiAs } from './messaging-database';
import { METRICS_NAMESPACE, ProjectFunction, SERVICE_NAME } from './project-function';

export interface VerificationScheduleProps {
  readonly cluster: rds.IDatabaseCluster;
  /** The login user the function runs its statements as (through the Data API). */
  readonly secret: secretsmanager.ISecret;
  readonly environment: Record<string, string>;
  /** An EventBridge schedule expression, e.g. 'rate(1 hour)'. */
  readonly schedule: string;
  readonly alarmEmail?: string;
}

export class VerificationSchedule extends Construct {
  readonly handler: ProjectFunction;
  readonly rule: events.Rule;
  readonly topic: sns.Topic;
  readonly deadLetters: sqs.Queue;
  readonly verificationAlarm: cloudwatch.Alarm;
  readonly errorsAlarm: cloudwatch.Alarm;
  readonly deadLettersAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: VerificationScheduleProps) {
    super(scope, id);

    // Whatever could not be delivered: the schedule's events, the Lambda's failed
    // asynchronous invocations, undeliverable alarm e-mails.
    this.deadLetters = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      this.deadLetters,
      'Serverless-SQSRedrivePolicy',
      'This queue is itself the terminal dead-letter queue (verification schedule, verification Lambda, alarm e-mails); an alarm fires on its first message, so it needs no further redrive.',
    );

    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: 'Encrypts the operations alarm topic',
      enableKeyRotation: true,
      // Alarm notifications are transient: nothing encrypted with this key outlives the topic.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    // CloudWatch alarms publish to the encrypted topic (the AWS managed SNS key does not allow that).
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Enhanced Messaging alarms',
      masterKey: key,
      enforceSSL: true,
    });
    if (props.alarmEmail) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail, { deadLetterQueue: this.deadLetters }));
    }

    this.handler = new ProjectFunction(this, 'Handler', {
      entry: 'functions/handlers/scheduled-verification.ts',
      description: 'Scheduled verification of the messaging schema, checksums and routing invariant',
      timeout: Duration.minutes(2),
      environment: props.environment,
      deadLetterQueue: this.deadLetters,
    });
    grantDataApiAs(this.handler, props.cluster, props.secret);

    this.rule = new events.Rule(this, 'Schedule', {
      description: 'Runs the messaging verification',
      schedule: events.Schedule.expression(props.schedule),
    });
    this.rule.addTarget(
      new targets.LambdaFunction(this.handler.function, {
        deadLetterQueue: this.deadLetters,
        retryAttempts: 2,
        maxEventAge: Duration.hours(1),
      }),
    );

    const topic = this.topic;
    this.verificationAlarm = notifyingAlarm(this, 'VerificationFailedAlarm', {
      description: 'The scheduled verification found failed checks (see the CheckFailed metric by check, and the function log).',
      metric: new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: VERIFICATION_FAILED_METRIC,
        dimensionsMap: { service: SERVICE_NAME },
        statistic: cloudwatch.Stats.MAXIMUM,
        period: Duration.hours(1),
      }),
      threshold: 1,
      // Between runs there is no data: keep the last state, so a red report stays red until a green one.
      treatMissingData: cloudwatch.TreatMissingData.IGNORE,
      topic,
    });
    this.errorsAlarm = notifyingAlarm(this, 'VerificationErrorsAlarm', {
      description: 'The scheduled verification could not run (the Lambda failed).',
      metric: this.handler.function.metricErrors({ period: Duration.hours(1), statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      topic,
    });
    this.deadLettersAlarm = notifyingAlarm(this, 'DeadLettersAlarm', {
      description: 'Something was dead-lettered (a schedule event, a verification invocation or an alarm e-mail).',
      metric: this.deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      topic,
    });
  }
}
