/**
 * The stack's alarms: each fires when its metric reaches a threshold in one period, and tells the
 * alarm topic both when it fires and when it is OK again.
 */
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';

export interface NotifyingAlarmProps {
  readonly description: string;
  readonly metric: cloudwatch.IMetric;
  /** Fires at this value or above. */
  readonly threshold: number;
  readonly treatMissingData: cloudwatch.TreatMissingData;
  readonly topic: sns.ITopic;
}

export function notifyingAlarm(scope: Construct, id: string, props: NotifyingAlarmProps): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    alarmDescription: props.description,
    metric: props.metric,
    threshold: props.threshold,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: props.treatMissingData,
  });
  const action = new cwActions.SnsAction(props.topic);
  alarm.addAlarmAction(action);
  alarm.addOkAction(action);
  return alarm;
}
