/**
 * The bench's HTML report (test/bench/html-report.ts), from runs recorded by the test: every
 * figure with its status, the date and machine of every run of the size, one sparkline per figure
 * that has a history, one gauge per bar with a limit, nothing loaded from anywhere, and markup
 * that parses (every element closed, in order; no stray '<' in text).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { barLimit, headline } from '../bench/compare';
import { loadRuns, machineLine, recordRun, runDate, type BenchRun } from '../bench/history';
import { renderReport, type RenderedReport } from '../bench/html-report';
import { keepRun } from '../bench/keep-run';
import { fixtureRun } from '../helpers/bench-runs';

const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link', 'wbr']);

/** The open elements left, or the first mismatch, parsing `html` as strictly as XML would (HTML's void elements aside). */
function parseProblems(html: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  const tag = /<!--[\s\S]*?-->|<!DOCTYPE html>|<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z_:][\w:.-]*(?:="[^"<]*")?)*)\s*(\/?)>/g;
  let last = 0;
  for (const match of html.matchAll(tag)) {
    const text = html.slice(last, match.index);
    if (/[<>]/.test(text)) problems.push(`unescaped < or > in text: ${JSON.stringify(text.slice(0, 80))}`);
    last = match.index + match[0].length;
    const [, closing, rawName, , selfClosing] = match;
    if (!rawName) continue;
    const name = rawName.toLowerCase();
    if (closing) {
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open}>`);
    } else if (!VOID.has(name) && !selfClosing) {
      stack.push(name);
    }
  }
  if (/[<>]/.test(html.slice(last))) problems.push('unescaped < or > after the last tag');
  if (stack.length > 0) problems.push(`never closed: ${stack.join(' > ')}`);
  return problems;
}

/** What a reader sees: the text without tags, entities decoded. */
const textOf = (html: string) =>
  html
    .replace(/<[^>]*>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');

const count = (text: string, part: string) => text.split(part).length - 1;

let dir: string;
let runs: BenchRun[];
let current: BenchRun;
let report: RenderedReport;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ems-bench-report-'));
  runs = [
    fixtureRun({ startedAt: '2026-11-28T09:00:00.000Z', cpuModel: 'Fixture CPU A', statsMs: 11, removalFailed: true }),
    fixtureRun({ startedAt: '2026-11-29T10:30:00.000Z', cpuModel: 'Fixture CPU B', statsMs: 13, coldLoadMs: 47 }),
    fixtureRun({ startedAt: '2026-11-30T11:45:00.000Z', cpuModel: 'Fixture CPU C', statsMs: 61, coldLoadMs: 52, rewritten: 'listed_cars' }),
  ];
  // Another size: never part of a smoke run's history.
  recordRun(dir, fixtureRun({ startedAt: '2026-11-29T12:00:00.000Z', size: 'full', cpuModel: 'Big iron' }));
  for (const run of runs) recordRun(dir, run);
  current = runs[2]!;
  report = renderReport(current, loadRuns(dir));
}, 30_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the report of the third of three recorded runs', () => {
  it('shows every figure of the run with its value, bar and status', () => {
    const text = textOf(report.html);
    for (const f of current.figures) {
      expect(text).toContain(f.metric);
      expect(text).toContain(f.value);
      if (f.bar) expect(text).toContain(f.bar);
    }
    const missed = current.figures.filter((f) => f.status === 'NOT MET');
    expect(missed.map((f) => f.metric).sort()).toEqual(['getCompanyStats median of 20 runs', 'health: cold load + SDK client vs. floor', 'table rewritten (relfilenode changed)'].sort());
    // One badge per figure (and one of each kind in the legend).
    expect(count(report.html, 'class="badge missed"')).toBe(missed.length + 1);
    expect(count(report.html, 'class="badge met"')).toBe(current.figures.filter((f) => f.status === 'met').length + 1);
    expect(count(report.html, 'class="badge info"')).toBe(current.figures.filter((f) => f.status === 'info').length + 1);
    expect(text).toContain('3 bar(s) not met');
  });

  it('groups the figures by step, in the order of the run', () => {
    const ids = [...report.html.matchAll(/<section id="step-([a-z0-9]+)">/g)].map((m) => m[1]);
    expect(ids).toEqual(['a', 'b', 'd', 'e', 'f', 'g']);
  });

  it('names the date and machine of every run of its size, and of no run of another size', () => {
    const text = textOf(report.html);
    for (const run of runs) {
      expect(text).toContain(runDate(run));
      expect(text).toContain(machineLine(run));
    }
    expect(text).not.toContain('Big iron');
    expect(text).not.toContain('2026-11-29 12:00 UTC');
    expect(text).toContain('2 earlier smoke runs in the history');
  });

  it('draws a sparkline for each figure that is a number now and in an earlier run, and a gauge for each bar with a limit', () => {
    const earlierKeys = new Set(runs.slice(0, 2).flatMap((r) => r.figures.filter((f) => headline(f)).map((f) => `${f.step} ${f.metric}`)));
    const withHistory = current.figures.filter((f) => headline(f) && earlierKeys.has(`${f.step} ${f.metric}`));
    // The removal step failed in the first run only: its lookup still has one earlier point.
    expect(withHistory.map((f) => f.metric)).toContain("longest concurrent lookup of another company's listing");
    expect(withHistory).toHaveLength(8);
    expect(report.sparklines).toBe(withHistory.length);
    expect(count(report.html, '<svg class="spark"')).toBe(withHistory.length);
    const limited = current.figures.filter((f) => barLimit(f.bar));
    expect(report.gauges).toBe(limited.length);
    expect(count(report.html, '<svg class="gauge"')).toBe(limited.length);
    expect(count(report.html, '<svg')).toBe(withHistory.length + limited.length);
    // Each point of a sparkline names its run.
    const statsRow = report.html.split('\n').find((line) => line.startsWith('<tr') && line.includes('getCompanyStats median of 20 runs'))!;
    expect(count(statsRow, '<circle')).toBe(3);
    for (const run of runs) expect(statsRow).toContain(runDate(run));
  });

  it('loads nothing: no script, no link, no URL', () => {
    expect(report.html).not.toMatch(/<script|<link|<iframe|<img|\bsrc=|@import|url\(|https?:|\/\/[a-z]/i);
  });

  it('parses: every element closed in order, text escaped', () => {
    expect(parseProblems(report.html)).toEqual([]);
    expect(report.html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(report.html).toContain('p99 &lt; 5 ms &amp; no errors');
    // The checker does catch what it is for.
    expect(parseProblems('<div><span></div></span>')).not.toEqual([]);
    expect(parseProblems('<p>a < b</p>')).not.toEqual([]);
  });
});

it('the first run of a size: a report without history', () => {
  const first = renderReport(runs[0]!, []);
  expect(first.sparklines).toBe(0);
  expect(count(first.html, '<svg class="spark"')).toBe(0);
  expect(textOf(first.html)).toContain('this is the first run of this size');
  expect(textOf(first.html)).toContain('1 step(s) failed: e');
  expect(parseProblems(first.html)).toEqual([]);
});

it('keepRun writes the run into the history and report.html beside it', () => {
  const local = mkdtempSync(path.join(os.tmpdir(), 'ems-bench-keep-'));
  try {
    const printed: string[] = [];
    const warned: string[] = [];
    for (const run of runs) keepRun(run, { benchDir: local, print: (t) => printed.push(t), warn: (t) => warned.push(t) });
    const kept = keepRun(fixtureRun({ startedAt: '2026-12-01T08:00:00.000Z' }), { benchDir: local, print: (t) => printed.push(t), warn: (t) => warned.push(t) });
    expect(warned).toEqual([]);
    expect(printed).toEqual([]);
    expect(kept.reportFile).toBe(path.join(local, 'report.html'));
    expect(loadRuns(local)).toHaveLength(4);
    const html = readFileSync(kept.reportFile!, 'utf8');
    expect(count(html, '<svg class="spark"')).toBeGreaterThan(0);
    for (const run of runs) expect(textOf(html)).toContain(runDate(run));
  } finally {
    rmSync(local, { recursive: true, force: true });
  }
});
