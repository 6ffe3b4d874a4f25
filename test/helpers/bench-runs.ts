/**
 * Bench runs as run.ts writes them, built from the same Report and formatters, so the history,
 * the report and the comparison are tested on the text a real run produces, without a run.
 */
import type { BenchRun } from '../bench/history';
import { bytes, ms, Report } from '../bench/report';

export interface RunShape {
  readonly startedAt: string;
  readonly size?: string;
  readonly cpuModel?: string;
  readonly statsMs?: number;
  readonly bundleKB?: number;
  readonly coldLoadMs?: number;
  readonly requestsPerSecond?: number;
  readonly rewritten?: string;
  /** Step e failed: its figures are missing and a 'step failed' figure stands in. */
  readonly removalFailed?: boolean;
}

const FLOOR_MS = 40;

export function fixtureRun(shape: RunShape): BenchRun {
  const statsMs = shape.statsMs ?? 12;
  const bundleKB = shape.bundleKB ?? 85.5;
  const coldLoadMs = shape.coldLoadMs ?? 48;
  const rps = shape.requestsPerSecond ?? 3000;
  const r = new Report();
  r.add('a', 'generation time', ms(1234, 0), '', 'info', 'set-based SQL, indexes rebuilt, VACUUM ANALYZE');
  r.add('a', 'listings / conversations / messages', '5,000 / 10,000 / 691');
  r.bar('b', 'runner ok (migrated and verified)', 'true', 'ok', true);
  r.bar('b', 'longest application lock wait (pg_locks sampled every 50 ms)', ms(183), '≤ 1 s', true);
  r.bar('b', 'table rewritten (relfilenode changed)', shape.rewritten ?? 'none', 'none', !shape.rewritten);
  r.add('d', 'throughput', `${rps} requests/s`, 'reported', 'info', '30,000 requests in 10 s, 10 connections');
  if (shape.removalFailed) {
    r.add('e', 'step failed', 'removeMember: deadlock detected', '', 'NOT MET');
  } else {
    r.bar('e', "longest concurrent lookup of another company's listing", ms(4.7), '≤ 100 ms', true, 'p99 < 5 ms & no errors');
  }
  r.bar('f', 'getCompanyStats median of 20 runs', ms(statsMs, 1), '≤ 50 ms', statsMs <= 50, `p90 ${ms(statsMs * 1.2, 1)}`);
  r.bar('g', 'health: bundle', bytes(bundleKB * 1024), '≤ 250 KB', bundleKB <= 250);
  const ratio = coldLoadMs / FLOOR_MS;
  r.bar('g', 'health: cold load + SDK client vs. floor', `${ms(coldLoadMs)} vs ${ms(FLOOR_MS)} (${ratio.toFixed(2)}×)`, '≤ 1.25×', ratio <= 1.25);
  const missed = r.figures.filter((f) => f.status === 'NOT MET');
  return {
    startedAt: shape.startedAt,
    totalMs: 95_000,
    command: `npm run bench -- --${shape.size ?? 'smoke'}`,
    size: { name: shape.size ?? 'smoke' },
    machine: { cpus: 2, cpuModel: shape.cpuModel ?? 'Fixture CPU', memoryGiB: 23.5, platform: 'linux 6.1', node: 'v20.20.2', loadAverageAtStart: [1.5, 1, 1] },
    database: { postgresVersion: '17.10', target: 'throwaway embedded PostgreSQL (deleted afterwards)' },
    figures: r.figures,
    failures: shape.removalFailed ? [{ step: 'e', message: 'deadlock detected' }] : [],
    barsMissed: missed.map((f) => `${f.step}: ${f.metric}`),
  };
}
