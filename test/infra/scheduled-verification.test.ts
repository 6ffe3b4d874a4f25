/**
 * The scheduled verification handler (functions/handlers/scheduled-verification.ts)
 * invoked locally on a real PostgreSQL: the report it returns and logs, and
 * the EMF metrics it prints, which the CloudWatch alarm of the stack watches
 * (same namespace, metric name and `service` dimension).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

// The test config silences EMF output; this file is about that output. Set before
// functions/shared/observability.ts builds its Metrics (vi.hoisted runs before the imports).
const metricsDisabled = vi.hoisted(() => {
  const previous = process.env.POWERTOOLS_METRICS_DISABLED;
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  return previous;
});
import { useDatabase } from '../../functions/database/from-config';
import { PgDatabase } from '../../functions/database/pg-adapter';
import { CHECK_FAILED_METRIC, handler, VERIFICATION_FAILED_METRIC } from '../../functions/handlers/scheduled-verification';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../infra/names';
import { createMigratedDatabase, type TestDatabase } from '../helpers/database';

interface EmfLine {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  [key: string]: unknown;
}

let t: TestDatabase;
let stdout: ReturnType<typeof vi.spyOn>;

beforeAll(async () => {
  t = await createMigratedDatabase();
});
afterAll(async () => {
  await t?.drop();
  if (metricsDisabled === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
  else process.env.POWERTOOLS_METRICS_DISABLED = metricsDisabled;
});
afterEach(() => stdout?.mockRestore());

/** Runs the handler, returning its report and the EMF lines it printed. */
async function invoke() {
  const written: string[] = [];
  stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  const report = await handler();
  stdout.mockRestore();
  const emf = written
    .join('')
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as EmfLine);
  const checkMetrics = emf.filter((l) => CHECK_FAILED_METRIC in l);
  const total = emf.filter((l) => VERIFICATION_FAILED_METRIC in l);
  return { report, emf, checkMetrics, total };
}

describe('the scheduled verification handler', () => {
  it('returns a green report on a healthy database and emits CheckFailed = 0 for every check', async () => {
    useDatabase(t.db);
    const { report, emf, checkMetrics, total } = await invoke();
    expect(report.ok).toBe(true);
    expect(checkMetrics.map((l) => l.check).sort()).toEqual(report.checks.map((c) => c.name).sort());
    expect(checkMetrics.every((l) => l[CHECK_FAILED_METRIC] === 0)).toBe(true);
    expect(total).toHaveLength(1);
    expect(total[0]![VERIFICATION_FAILED_METRIC]).toBe(0);
    // What the stack's alarm reads: namespace, metric name, `service` dimension.
    for (const line of emf) {
      expect(line._aws.CloudWatchMetrics[0]!.Namespace).toBe(METRICS_NAMESPACE);
      expect(line.service).toBe(SERVICE_NAME);
    }
    expect(total[0]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['service']]);
    expect(checkMetrics[0]!._aws.CloudWatchMetrics[0]!.Dimensions[0]).toEqual(expect.arrayContaining(['service', 'check']));
  });

  it('returns (does not throw) a red report after DROP VIEW active_company_members, and the metric names the check', async () => {
    await t.db.query('DROP VIEW active_company_members');
    useDatabase(t.db);
    const { report, checkMetrics, total } = await invoke();
    expect(report.ok).toBe(false);
    const failed = report.checks.filter((c) => !c.ok);
    expect(failed.map((c) => c.name)).toContain('views created');
    expect(failed.find((c) => c.name === 'views created')!.detail).toContain('active_company_members');
    const views = checkMetrics.find((l) => l.check === 'views created')!;
    expect(views[CHECK_FAILED_METRIC]).toBe(1);
    expect(checkMetrics.filter((l) => l[CHECK_FAILED_METRIC] === 1).map((l) => l.check).sort()).toEqual(failed.map((c) => c.name).sort());
    expect(total[0]![VERIFICATION_FAILED_METRIC]).toBe(failed.length);
  });

  it('reports every check failed (red, alarm) rather than throwing when the database does not answer', async () => {
    const unreachable = new PgDatabase('postgresql://nobody:secret@127.0.0.1:1/nothing', { max: 1, applicationName: 'ems-test' });
    useDatabase(unreachable);
    try {
      const { report, total } = await invoke();
      expect(report.ok).toBe(false);
      expect(report.checks.every((c) => !c.ok && c.detail.startsWith('could not run'))).toBe(true);
      expect(total[0]![VERIFICATION_FAILED_METRIC]).toBe(report.checks.length);
    } finally {
      await unreachable.close();
    }
  });
});
