/**
 * The bench's run history (test/bench/history.ts): each run kept under its time and size, the
 * oldest of a size pruned beyond the limit, other sizes and files nobody named that way left alone,
 * a damaged file left out of what is read instead of failing the report.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { earlierRuns, loadRuns, pruneRuns, readRun, recordRun, runsDir } from '../bench/history';
import { fixtureRun } from '../helpers/bench-runs';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ems-bench-history-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const hour = (h: number) => new Date(Date.UTC(2026, 10, 30, h, 0, 0)).toISOString();

it('keeps each run as <time>-<size>.json, the JSON unchanged', () => {
  const run = fixtureRun({ startedAt: '2026-11-30T05:25:42.828Z' });
  const file = recordRun(dir, run);
  expect(path.basename(file)).toBe('2026-11-30T05-25-42.828Z-smoke.json');
  expect(path.dirname(file)).toBe(runsDir(dir));
  expect(readRun(file)).toEqual(run);
});

it('two runs started in the same millisecond are both kept', () => {
  const run = fixtureRun({ startedAt: hour(1) });
  const first = recordRun(dir, run);
  const second = recordRun(dir, run);
  expect(second).not.toBe(first);
  expect(loadRuns(dir)).toHaveLength(2);
});

it('prunes the oldest runs of a size beyond the limit, and nothing of another size or not named as a run', () => {
  writeFileSync(path.join(recordRun(dir, fixtureRun({ startedAt: hour(0), size: 'full' })), '..', 'my-notes.json'), '{}');
  for (let h = 1; h <= 6; h += 1) recordRun(dir, fixtureRun({ startedAt: hour(h) }), 3);
  const names = readdirSync(runsDir(dir)).sort();
  expect(names).toEqual([
    '2026-11-30T00-00-00.000Z-full.json',
    '2026-11-30T04-00-00.000Z-smoke.json',
    '2026-11-30T05-00-00.000Z-smoke.json',
    '2026-11-30T06-00-00.000Z-smoke.json',
    'my-notes.json',
  ]);
  // A lower limit later prunes what is there already.
  expect(pruneRuns(dir, 1).map((f) => path.basename(f))).toEqual(['2026-11-30T04-00-00.000Z-smoke.json', '2026-11-30T05-00-00.000Z-smoke.json']);
});

it('reads the runs oldest first, leaving out (and saying) a file that is not a run', () => {
  for (const h of [3, 1, 2]) recordRun(dir, fixtureRun({ startedAt: hour(h) }));
  writeFileSync(path.join(runsDir(dir), 'broken.json'), '{"startedAt": ');
  writeFileSync(path.join(runsDir(dir), 'other.json'), '{"hello": 1}');
  const skipped: string[] = [];
  const runs = loadRuns(dir, (file) => skipped.push(path.basename(file)));
  expect(runs.map((r) => r.run.startedAt)).toEqual([hour(1), hour(2), hour(3)]);
  expect(skipped.sort()).toEqual(['broken.json', 'other.json']);
});

it('the earlier runs of a run are those of its size that started before it', () => {
  const now = fixtureRun({ startedAt: hour(5) });
  for (const run of [fixtureRun({ startedAt: hour(1) }), fixtureRun({ startedAt: hour(2), size: 'quick' }), now, fixtureRun({ startedAt: hour(6) })]) {
    recordRun(dir, run);
  }
  expect(earlierRuns(loadRuns(dir), now).map((r) => r.run.startedAt)).toEqual([hour(1)]);
});
