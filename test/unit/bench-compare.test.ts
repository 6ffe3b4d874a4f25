/**
 * `npm run bench -- --compare`: each figure of this run beside an earlier run's, and a regression
 * named (test/bench/compare.ts, keep-run.ts); the figures read back as numbers from their text.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { barLimit, compareRuns, comparisonText, headline } from '../bench/compare';
import { runDate } from '../bench/history';
import { keepRun } from '../bench/keep-run';
import { fixtureRun } from '../helpers/bench-runs';

describe('a figure as a number', () => {
  it.each([
    ['12.0 ms', '≤ 50 ms', { value: 12, unit: 'ms', better: 'lower', resolution: 0.1 }],
    ['1.20 MB', '≤ 250 KB', { value: 1228.8, unit: 'KB', better: 'lower', resolution: 10.24 }],
    ['48.6 ms vs 40.0 ms (1.22×)', '≤ 1.25×', { value: 1.22, unit: '×', better: 'lower', resolution: 0.01 }],
    ['0.95×', '≤ 1.1×', { value: 0.95, unit: '×', better: 'lower', resolution: 0.01 }],
    ['3,098 requests/s', 'reported', { value: 3098, unit: 'requests/s', better: 'higher', resolution: 1 }],
    ['3 ms / 9 ms', 'reported', { value: 3, unit: 'ms', better: 'lower', resolution: 1 }],
    ['0', '0', { value: 0, unit: '', better: 'lower', resolution: 0 }],
    ['5,000 / 10,000 / 691', '', { value: 5000, unit: '', better: undefined, resolution: 0 }],
  ] as const)('%s (bar %s)', (value, bar, expected) => {
    expect(headline({ value, bar })).toEqual(expected);
  });

  it.each(['true', 'none', 'failed: connection refused'])('%s is not a number', (value) => {
    expect(headline({ value, bar: 'ok' })).toBeUndefined();
  });

  it('a bar\'s limit in the units of the figures', () => {
    expect(barLimit('≤ 1 s')).toEqual({ value: 1000, unit: 'ms' });
    expect(barLimit('≤ 2 s (full size)')).toEqual({ value: 2000, unit: 'ms' });
    expect(barLimit('≤ 250 KB')).toEqual({ value: 250, unit: 'KB' });
    expect(barLimit('≤ 1.1×')).toEqual({ value: 1.1, unit: '×' });
    expect(barLimit('reported')).toBeUndefined();
  });
});

describe('one run against an earlier one', () => {
  const before = fixtureRun({ startedAt: '2026-11-29T10:00:00.000Z', statsMs: 12, coldLoadMs: 48, requestsPerSecond: 3000, bundleKB: 90 });
  const now = fixtureRun({ startedAt: '2026-11-30T10:00:00.000Z', statsMs: 36, coldLoadMs: 52, requestsPerSecond: 2000, bundleKB: 85, removalFailed: true });

  it('says which figures got worse, which better, which stayed within the noise', () => {
    const verdicts = Object.fromEntries(compareRuns(before, now).changes.map((c) => [c.metric, c.verdict]));
    expect(verdicts).toMatchObject({
      'getCompanyStats median of 20 runs': 'worse',
      throughput: 'worse',
      'health: cold load + SDK client vs. floor': 'bar now NOT MET',
      'health: bundle': 'same', // 5.6% smaller: noise
      'generation time': 'same',
      'table rewritten (relfilenode changed)': 'same',
    });
    const improved = compareRuns(now, before).changes.find((c) => c.metric === 'getCompanyStats median of 20 runs')!;
    expect(improved).toMatchObject({ verdict: 'better', delta: -24 });
    expect(improved.ratio).toBeCloseTo(1 / 3);
  });

  it('prints every figure with both values and the change, then names the regressions', () => {
    const text = comparisonText(before, now, 'runs/earlier.json');
    expect(text.split('\n')[0]).toBe(`Compared with the smoke run of ${runDate(before)} (2 × Fixture CPU, 23.5 GiB, Node.js v20.20.2, PostgreSQL 17.10, load 1.5), runs/earlier.json:`);
    expect(text).toMatch(/\| f +\| getCompanyStats median of 20 runs +\| 12\.0 ms +\| 36\.0 ms +\| \+200%, \+24 ms +\| worse +\|/);
    expect(text).toMatch(/\| d +\| throughput +\| 3000 requests\/s +\| 2000 requests\/s +\| −33%, −1,000 requests\/s +\| worse +\|/);
    const regressions = text.slice(text.indexOf('Worse than the earlier run'));
    expect(regressions).toContain('Worse than the earlier run (by more than 10%, or a bar newly missed): 3');
    expect(regressions).toContain('f getCompanyStats median of 20 runs: 12.0 ms → 36.0 ms (+200%, +24 ms)');
    expect(regressions).toContain('g health: cold load + SDK client vs. floor: 48.0 ms vs 40.0 ms (1.20×) → 52.0 ms vs 40.0 ms (1.30×) (bar now NOT MET; +8.3%, +0.1×)');
    expect(regressions).not.toContain('health: bundle');
    expect(text).toContain("Only in this run: e step failed");
    expect(text).toContain("Only in the earlier run: e longest concurrent lookup of another company's listing");
  });

  it('a change of one step of the last digit printed is rounding, not a regression', () => {
    const verdict = (earlier: number, later: number) =>
      compareRuns(fixtureRun({ startedAt: '2026-11-29T10:00:00.000Z', statsMs: earlier }), fixtureRun({ startedAt: '2026-11-30T10:00:00.000Z', statsMs: later }))
        .changes.find((c) => c.metric === 'getCompanyStats median of 20 runs')!.verdict;
    expect(verdict(0.3, 0.4)).toBe('same');
    expect(verdict(0.3, 0.5)).toBe('worse');
    expect(verdict(0.5, 0.3)).toBe('better');
  });

  it('says when the runs are of different sizes or machines', () => {
    const full = fixtureRun({ startedAt: '2026-11-28T10:00:00.000Z', size: 'full', cpuModel: 'Big iron' });
    const text = comparisonText(full, now, 'x.json');
    expect(text).toContain('that run was size full, this one smoke');
    expect(text).toContain('another machine or runtime');
    expect(comparisonText(before, before, 'x.json')).toContain('Nothing worse by more than 10% and no bar newly missed.');
  });

  it('--compare previous: beside the last earlier run of the same size in the history', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ems-bench-compare-'));
    try {
      const printed: string[] = [];
      const print = (t: string) => printed.push(t);
      keepRun(fixtureRun({ startedAt: '2026-11-28T10:00:00.000Z', statsMs: 40 }), { benchDir: dir, print, compare: { kind: 'previous' } });
      expect(printed.pop()).toContain('No earlier smoke run in');
      keepRun(before, { benchDir: dir, print });
      keepRun(fixtureRun({ startedAt: '2026-11-29T23:00:00.000Z', size: 'quick' }), { benchDir: dir, print });
      keepRun(now, { benchDir: dir, print, compare: { kind: 'previous' } });
      const text = printed.pop()!;
      expect(text).toContain(`Compared with the smoke run of ${runDate(before)}`);
      expect(text).toContain('f getCompanyStats median of 20 runs: 12.0 ms → 36.0 ms');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
