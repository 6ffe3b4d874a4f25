/**
 * `npm run bench -- --compare`: a file that is missing or not a run's JSON is a usage error (exit 2)
 * found before anything runs, and `--help` tells about it and about the history and the report.
 * DATABASE_URL points at a closed port: had the bench gone past its command line, it would exit 3.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort, PROJECT_ROOT } from '../../functions/database/local-postgres';
import { runCommand, type CommandResult } from '../helpers/cli';

const benchDir = path.join(PROJECT_ROOT, '.local', 'bench');
/** What the bench's own files look like, so that a run that wrote anything would show. */
const benchFiles = () =>
  existsSync(benchDir)
    ? readdirSync(benchDir, { recursive: true, encoding: 'utf8' }).sort().map((f) => `${f} ${statSync(path.join(benchDir, f)).mtimeMs}`)
    : [];

let dir: string;
let before: string[];
const results = new Map<string, CommandResult>();
const cases = {
  help: '--help',
  missingValue: '--smoke --compare',
  noSuchFile: '--smoke --compare no-such-run.json',
  notARun: `--smoke --compare ${'NOT_A_RUN'}`,
  unknown: '--smoke --compare previous --comprae previous',
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ems-bench-cli-'));
  const notARun = path.join(dir, 'not-a-run.json');
  writeFileSync(notARun, '{"figures": "none"}');
  before = benchFiles();
  const env = { ...process.env, DATABASE_URL: `postgres://nobody:nothing@127.0.0.1:${await freePort()}/marketplace` };
  await Promise.all(
    Object.entries(cases).map(async ([name, args]) => {
      results.set(name, await runCommand(`npx tsx test/bench/run.ts ${args.replace('NOT_A_RUN', notARun)}`, env, { timeoutMs: 60_000 }));
    }),
  );
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('--help names --compare, the history and the report', () => {
  const r = results.get('help')!;
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toContain('--compare previous');
  expect(r.stdout).toContain('.local/bench/runs/');
  expect(r.stdout).toContain('.local/bench/report.html');
});

it.each([
  ['missingValue', "Option '--compare' needs a value."],
  ['noSuchFile', `--compare: no such file: ${path.join(PROJECT_ROOT, 'no-such-run.json')}`],
  ['notARun', "is not a bench run's JSON"],
  ['unknown', "Unknown option '--comprae'."],
])('%s: exit 2 with the problem and the usage', (name, problem) => {
  const r = results.get(name)!;
  expect(r.code, r.stdout + r.stderr).toBe(2);
  expect(r.stderr).toContain(problem);
  expect(r.stderr).toContain('usage: npm run bench');
  expect(r.stdout).toBe('');
});

it('none of them wrote to .local/bench', () => {
  expect(benchFiles()).toEqual(before);
});
