/**
 * The scheduled verification (EventBridge schedule → this Lambda): runs the
 * same verification as `npm run verify` through the function's database (the
 * RDS Data API in AWS), logs the report, and emits one EMF metric per check,
 * one per routing-invariant violation class (its count), plus the total of
 * failed checks, which the CloudWatch alarm watches.
 *
 * A red report is a result, not an error: it is returned, and the metric
 * raises the alarm. The function throws only when it cannot verify at all
 * (configuration, database construction), which the Errors alarm reports.
 */
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { getDatabase } from '../database/from-config';
import { idTypeSetting } from '../shared/config';
import { logger, metrics, startInvocation } from '../shared/observability';
import { verifyInstallation, type VerificationReport } from '../verification/verify';

/** 1 for a failed check, 0 for a passed one; dimension `check` = the check's name. */
export const CHECK_FAILED_METRIC = 'CheckFailed';
/**
 * The number of rows in one routing-invariant violation class (0 included); dimension
 * `violation` = the class (INVARIANT_VIOLATION_CLASSES), emitted for every class the check counted.
 */
export const INVARIANT_VIOLATIONS_METRIC = 'InvariantViolations';
/** The number of failed checks in the run (the alarm fires at >= 1). */
export const VERIFICATION_FAILED_METRIC = 'VerificationFailed';

export function publishVerificationMetrics(report: VerificationReport, target: Metrics = metrics): void {
  for (const check of report.checks) {
    // A single metric is flushed at once, with its own `check` dimension.
    const single = target.singleMetric();
    single.addDimension('check', check.name);
    single.addMetric(CHECK_FAILED_METRIC, MetricUnit.Count, check.ok ? 0 : 1);
    // A check that could not run counted nothing: its CheckFailed = 1 says so.
    for (const [violation, count] of Object.entries(check.violations ?? {})) {
      const perClass = target.singleMetric();
      perClass.addDimension('violation', violation);
      perClass.addMetric(INVARIANT_VIOLATIONS_METRIC, MetricUnit.Count, count);
    }
  }
  target.addMetric(VERIFICATION_FAILED_METRIC, MetricUnit.Count, report.checks.filter((c) => !c.ok).length);
  target.publishStoredMetrics();
}

/** The ids the stack's API takes (EMS_ID_TYPE, context key idType), read as the function loads: a bad value fails the cold start. */
const idType = idTypeSetting();

export async function handler(_event?: unknown, context?: Context): Promise<VerificationReport> {
  startInvocation(context);
  const db = await getDatabase();
  const report = await verifyInstallation(db, { idType });
  publishVerificationMetrics(report);
  const failed = report.checks.filter((c) => !c.ok);
  const fields = { ok: report.ok, failedChecks: failed.map((c) => c.name), checks: report.checks };
  if (report.ok) logger.info('verification passed', fields);
  else logger.error('verification failed', fields);
  return report;
}
