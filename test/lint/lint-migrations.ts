/**
 * `npm run lint:migrations`: lints the SQL the migrations ACTUALLY run, with squawk.
 *
 * 1. Runs every migration up (in order), then every migration down (in reverse),
 *    on a scratch database: a throwaway embedded PostgreSQL, or a scratch
 *    database on DATABASE_URL's server when DATABASE_URL is set. Every statement
 *    knex sends is recorded, BEGIN/COMMIT and the SET [LOCAL] lock_timeout /
 *    statement_timeout included, with bindings inlined as SQL literals. Left
 *    out: knex's own bookkeeping (knex_migrations, knex_migrations_lock) and
 *    plain catalog lookups with bindings (the helpers' "does it exist yet?").
 * 2. Writes one file per migration and direction to `.local/squawk/` (git-ignored).
 * 3. Runs squawk on them for the PostgreSQL major the stack deploys. Any
 *    finding fails the lint. A warning that is acceptable is explained NEXT TO
 *    THE STATEMENT in the migration source, inside its SQL string, as
 *        -- squawk-ignore <rule>[, <rule>] -- <why it is acceptable>
 *    on the line above the line squawk reports (or at the end of that line):
 *    squawk's ignores cover that line only. An ignore without a reason, a
 *    file-wide ignore, and an ignore that no longer suppresses anything fail
 *    the lint too, so every explanation stays true.
 *
 * 4. Lints the database's code where it lives, `migrations/sql/<concern>/<name>.sql`, file by
 *    file, with every rule but the two timeouts: each file is one definition that a
 *    migration runs through its DDL helper, which sets lock_timeout and
 *    statement_timeout first (step 3 sees those statements as they are sent).
 *
 * Exit status: 0 clean; 1 on any squawk error, unexplained warning or bad
 * ignore; 2 when the lint could not run.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { MIGRATIONS, type NamedMigration } from '../../migrations';
import { MIGRATIONS_TABLE, migrationKnexConfig } from '../../functions/database/knex-config';
import { databaseUrl, EMBEDDED_POSTGRES_MAJOR, PROJECT_ROOT, startThrowawayPostgres } from '../../functions/database/local-postgres';

const OUTPUT_DIR = path.join(PROJECT_ROOT, '.local', 'squawk');
const SQUAWK = path.join(PROJECT_ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'squawk.cmd' : 'squawk');
/** The Aurora PostgreSQL major the stack deploys (infra/); the embedded server is the same major. */
const PG_VERSION = String(EMBEDDED_POSTGRES_MAJOR);
/** An explicit, empty configuration: no rule excluded, and no stray `.squawk.toml` picked up from a parent folder. */
const SQUAWK_CONFIG = '# Written by `npm run lint:migrations`: every default squawk rule applies.\n';

type Direction = 'up' | 'down';

interface CapturedQuery {
  readonly sql: string;
  readonly hasBindings: boolean;
  readonly txId: string | undefined;
}

interface CapturedRun {
  readonly migration: NamedMigration;
  readonly direction: Direction;
  readonly file: string;
  readonly statements: readonly string[];
  readonly skippedLookups: number;
}

interface SquawkFinding {
  readonly file: string;
  /** 0-based, as squawk's JSON reporter gives it. */
  readonly line: number;
  readonly column: number;
  readonly level: string;
  readonly message: string;
  readonly rule_name: string;
}

interface IgnoreComment {
  readonly file: string;
  /** 0-based line of the comment. */
  readonly line: number;
  readonly rules: readonly string[];
  readonly reason: string;
}

// ---------------------------------------------------------------------------
// Scratch database
// ---------------------------------------------------------------------------

interface Scratch {
  readonly url: string;
  readonly describe: string;
  dispose(): Promise<void>;
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl, application_name: 'ems-lint-migrations' });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function scratchDatabase(): Promise<Scratch> {
  const name = `ems_squawk_${randomBytes(5).toString('hex')}`;
  const fromEnvironment = process.env.DATABASE_URL?.trim();
  if (fromEnvironment) {
    // The database DATABASE_URL names is never migrated: a scratch database next to it, dropped at the end.
    await adminQuery(fromEnvironment, `CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    return {
      url: databaseUrl(fromEnvironment, name),
      describe: `scratch database ${name} on DATABASE_URL's server`,
      dispose: () => adminQuery(fromEnvironment, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`),
    };
  }
  const server = await startThrowawayPostgres();
  try {
    await adminQuery(server.adminUrl, `CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return {
    url: databaseUrl(server.adminUrl, name),
    describe: `throwaway embedded PostgreSQL ${PG_VERSION} on port ${server.port}`,
    dispose: () => server.stop(),
  };
}

// ---------------------------------------------------------------------------
// Capture
// ---------------------------------------------------------------------------

/** knex's own bookkeeping: its migrations and lock tables (quoted identifiers or looked up by name). */
const KNEX_BOOKKEEPING = new RegExp(`["']${MIGRATIONS_TABLE}(_lock)?["']`);
const TRANSACTION_CONTROL = /^\s*(BEGIN|COMMIT|ROLLBACK)\b/i;

/** A read-only SELECT whose every relation is a catalog (pg_*, information_schema.*). */
function isCatalogLookup(sql: string): boolean {
  if (!/^\s*SELECT\b/i.test(sql) || /\b(INSERT|UPDATE|DELETE|FOR\s+(NO\s+KEY\s+)?UPDATE|FOR\s+(KEY\s+)?SHARE)\b/i.test(sql)) return false;
  const relations = [...sql.matchAll(/\b(?:FROM|JOIN)\s+([A-Za-z_][\w.]*)/gi)].map((m) => m[1]!.toLowerCase());
  return relations.length > 0 && relations.every((r) => /^(pg_catalog\.)?pg_\w+$|^information_schema\.\w+$/.test(r));
}

/** Replaces pg's positional `$n` parameters by SQL literals, formatted by knex itself. */
function inlineBindings(knex: Knex, sql: string, bindings: readonly unknown[] | undefined): string {
  if (!bindings || bindings.length === 0) return sql;
  return sql.replace(/\$(\d+)\b/g, (match, index: string) => {
    const i = Number(index) - 1;
    if (i < 0 || i >= bindings.length) return match;
    return knex.raw('?', [bindings[i] as Knex.Value]).toQuery();
  });
}

/**
 * The migration's own statements: knex's bookkeeping and catalog lookups out,
 * then the transactions left holding nothing but BEGIN/COMMIT (knex's lock
 * transaction) out as well.
 */
function migrationStatements(queries: readonly CapturedQuery[]): { statements: string[]; skippedLookups: number } {
  const withoutBookkeeping = queries.filter((q) => !KNEX_BOOKKEEPING.test(q.sql));
  const kept = withoutBookkeeping.filter((q) => !(q.hasBindings && isCatalogLookup(q.sql)));
  const busy = new Set(kept.filter((q) => !TRANSACTION_CONTROL.test(q.sql)).map((q) => q.txId));
  const statements = kept
    .filter((q) => !TRANSACTION_CONTROL.test(q.sql) || (q.txId !== undefined && busy.has(q.txId)))
    .map((q) => q.sql.trim());
  return { statements, skippedLookups: withoutBookkeeping.length - kept.length };
}

function renderSql(run: CapturedRun): string {
  const lines = [
    `-- ${run.migration.name} (${run.direction}): the statements it ran, captured by \`npm run lint:migrations\`.`,
    '',
    ...run.statements.map((statement) => {
      const text = statement.replace(/;\s*$/, '');
      // A statement ending in a line comment needs its terminator on a line of its own.
      return (text.split('\n').pop() ?? '').includes('--') ? `${text}\n;` : `${text};`;
    }),
  ];
  return `${lines.join('\n')}\n`;
}

async function captureMigrations(url: string): Promise<CapturedRun[]> {
  const knex = knexFactory(migrationKnexConfig(url));
  let current: CapturedQuery[] = [];
  knex.on('query', (query: { sql: string; bindings?: unknown[]; __knexTxId?: string }) => {
    current.push({
      sql: inlineBindings(knex, query.sql, query.bindings),
      hasBindings: (query.bindings?.length ?? 0) > 0,
      txId: query.__knexTxId,
    });
  });
  const runs: CapturedRun[] = [];
  const record = async (migration: NamedMigration, direction: Direction) => {
    current = [];
    try {
      if (direction === 'up') await knex.migrate.up({ name: migration.name });
      else await knex.migrate.down({ name: migration.name });
    } catch (error) {
      throw new Error(`${migration.name} ${direction} failed: ${(error as Error).message}`, { cause: error });
    }
    const file = `${String(runs.length + 1).padStart(2, '0')}_${migration.name.replace(/\.js$/, '')}.${direction}.sql`;
    runs.push({ migration, direction, file, ...migrationStatements(current) });
  };
  try {
    for (const migration of MIGRATIONS) await record(migration, 'up');
    for (const migration of [...MIGRATIONS].reverse()) await record(migration, 'down');
  } finally {
    await knex.destroy();
  }
  return runs;
}

// ---------------------------------------------------------------------------
// Ignore comments
// ---------------------------------------------------------------------------

const IGNORE_MARK = 'squawk-ignore';
/** `-- squawk-ignore rule-a, rule-b -- reason`; squawk itself ignores everything after the second `--`. */
const IGNORE_COMMENT = /--\s*squawk-ignore\s+([a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*)\s*--\s*(\S.*)$/;

/** Reads the ignore comments of a captured file; malformed ones are returned as problems. */
function ignoreComments(file: string, text: string): { ignores: IgnoreComment[]; problems: string[] } {
  const ignores: IgnoreComment[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((line, index) => {
    if (!line.includes(IGNORE_MARK)) return;
    const match = IGNORE_COMMENT.exec(line);
    if (!match || line.includes(`${IGNORE_MARK}-file`)) {
      problems.push(
        `${file}:${index + 1}: malformed ignore, write \`-- squawk-ignore <rule>[, <rule>] -- <reason>\` ` +
          `(one statement, a written reason, no file-wide ignores):\n    ${line.trim()}`,
      );
      return;
    }
    ignores.push({ file, line: index, rules: match[1]!.split(',').map((r) => r.trim()), reason: match[2]!.trim() });
  });
  return { ignores, problems };
}

/**
 * Rules squawk reports at most once per file (at the first statement it finds
 * unprotected; a `SET` anywhere before satisfies it for the rest of the file).
 */
const ONCE_PER_FILE_RULES = new Set(['require-timeout-settings', 'require-lock-timeout', 'require-statement-timeout']);

/** squawk applies an ignore to findings starting on the comment's line or the line after it. */
function explains(ignore: IgnoreComment, finding: SquawkFinding): boolean {
  return (
    finding.file === ignore.file &&
    ignore.rules.includes(finding.rule_name) &&
    (finding.line === ignore.line || finding.line === ignore.line + 1)
  );
}

// ---------------------------------------------------------------------------
// squawk
// ---------------------------------------------------------------------------

function squawk(cwd: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(
    SQUAWK,
    ['--config', 'squawk.toml', '--pg-version', PG_VERSION, '--no-assume-in-transaction', ...args],
    { cwd, encoding: 'utf8' },
  );
  if (result.error) throw new Error(`could not run ${SQUAWK} (did \`npm ci\` install squawk-cli?): ${result.error.message}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function squawkFindings(cwd: string, files: readonly string[]): SquawkFinding[] {
  const result = squawk(cwd, ['--reporter', 'json', ...files]);
  try {
    const findings = JSON.parse(result.stdout.trim() || '[]') as SquawkFinding[];
    if (!Array.isArray(findings)) throw new Error('not a list');
    return findings;
  } catch {
    throw new Error(`squawk gave no JSON report (exit ${result.status}):\n${result.stdout}${result.stderr}`);
  }
}

/** Writes the files to `dir` with squawk's configuration; `transform` edits each file's text. */
async function writeLintFolder(dir: string, runs: readonly CapturedRun[], transform = (text: string) => text) {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'squawk.toml'), SQUAWK_CONFIG);
  for (const run of runs) await writeFile(path.join(dir, run.file), transform(renderSql(run)));
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

/** squawk colours its report unconditionally: keep the colours for a terminal only. */
function forTerminal(text: string): string {
  if (process.stdout.isTTY) return text;
  return text.replace(/\x1b\[[0-9;]*m/g, '').replace(/\x1b\]8;;[^\x1b]*\x1b\\/g, '');
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The database's code, one definition per file (migrations/sql/<concern>/<name>.sql). */
async function sqlFileFindings(): Promise<{ files: string[]; findings: SquawkFinding[] }> {
  const root = path.join(PROJECT_ROOT, 'migrations', 'sql');
  const files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith('.sql')).sort().map((f) => path.join(root, f));
  // The timeouts are the DDL helper's (migrations/lib/safe-ddl.ts), set before each file runs.
  return { files, findings: squawkFindings(OUTPUT_DIR, ['--exclude=require-lock-timeout,require-statement-timeout', ...files]) };
}

async function main(): Promise<number> {
  const started = Date.now();
  process.env.EMS_QUIET_MIGRATIONS = '1';

  const scratch = await scratchDatabase();
  let runs: CapturedRun[];
  try {
    runs = await captureMigrations(scratch.url);
  } finally {
    await scratch.dispose();
  }

  await rm(OUTPUT_DIR, { recursive: true, force: true });
  await writeLintFolder(OUTPUT_DIR, runs);
  const files = runs.map((r) => r.file);

  // The real run: with the explanations in place nothing may remain.
  const findings = squawkFindings(OUTPUT_DIR, files);
  // The same SQL with every ignore disabled: what the explanations are explaining.
  const bare = await mkdtemp(path.join(os.tmpdir(), 'ems-squawk-'));
  let bareFindings: SquawkFinding[];
  try {
    await writeLintFolder(bare, runs, (text) => text.replaceAll(IGNORE_MARK, 'squawk-explained'));
    bareFindings = squawkFindings(bare, files);
  } finally {
    await rm(bare, { recursive: true, force: true });
  }

  const sqlFiles = await sqlFileFindings();

  const problems: string[] = [];
  const ignores = runs.flatMap((run) => {
    const parsed = ignoreComments(run.file, renderSql(run));
    problems.push(...parsed.problems);
    return parsed.ignores;
  });
  const usedRules = (ignore: IgnoreComment) =>
    ignore.rules.filter((rule) => bareFindings.some((f) => f.rule_name === rule && explains(ignore, f)));
  for (const ignore of ignores) {
    const used = usedRules(ignore);
    const unused = ignore.rules.filter(
      (rule) =>
        !used.includes(rule) &&
        // squawk reports a missing timeout once per file: a helper's repeated explanation of it is not stale.
        !(
          ONCE_PER_FILE_RULES.has(rule) &&
          ignores.some((other) => other.file === ignore.file && other.line < ignore.line && usedRules(other).includes(rule))
        ),
    );
    if (unused.length > 0) {
      problems.push(
        `${ignore.file}:${ignore.line + 1}: stale ignore, squawk reports no ${unused.join(', ')} on the next line: ` +
          'remove it from the migration (or move it next to the line squawk reports).',
      );
    }
  }
  const explained = bareFindings.filter((f) => ignores.some((i) => explains(i, f)));

  // Summary.
  const width = Math.max(...files.map((f) => f.length));
  console.log(`Captured the SQL of ${runs.length} migration runs on a ${scratch.describe}: ${path.relative(PROJECT_ROOT, OUTPUT_DIR)}/`);
  console.log(`squawk ${squawk(OUTPUT_DIR, ['--version']).stdout.trim().replace(/^squawk\s*/, '')}, --pg-version ${PG_VERSION}\n`);
  for (const run of runs) {
    const mine = explained.filter((f) => f.file === run.file);
    const byRule = new Map<string, number>();
    for (const f of mine) byRule.set(f.rule_name, (byRule.get(f.rule_name) ?? 0) + 1);
    const rules = [...byRule].map(([rule, n]) => (n > 1 ? `${rule} ×${n}` : rule)).join(', ');
    const open = findings.filter((f) => f.file === run.file).length;
    console.log(
      `  ${open > 0 ? '✗' : '✓'} ${run.file.padEnd(width)}  ${plural(run.statements.length, 'statement').padStart(14)}` +
        `  ${plural(mine.length, 'explained warning').padEnd(20)}${rules ? ` (${rules})` : ''}` +
        `${open > 0 ? `  ${plural(open, 'UNEXPLAINED finding')}` : ''}`,
    );
  }

  const errors = findings.filter((f) => f.level.toLowerCase() === 'error').length;
  const warnings = findings.length - errors;
  const statements = runs.reduce((n, r) => n + r.statements.length, 0);
  const lookups = runs.reduce((n, r) => n + r.skippedLookups, 0);
  console.log(`\n  (${plural(lookups, 'catalog lookup')} with bindings not linted; took ${((Date.now() - started) / 1000).toFixed(1)} s)`);

  if (findings.length > 0) {
    console.log('\nsquawk found problems in the SQL the migrations run:\n');
    const report = squawk(OUTPUT_DIR, [...new Set(findings.map((f) => f.file))]);
    console.log(forTerminal(report.stdout + report.stderr));
    console.log(
      'Fix the migration, or, when the warning is acceptable, explain it next to the statement in the migration source:\n' +
        '  -- squawk-ignore <rule> -- <why it is acceptable>\n' +
        'on the line above the one squawk reports, inside the SQL string.',
    );
  }
  if (problems.length > 0) console.log(`\nIgnore comments:\n${problems.map((p) => `  ${p}`).join('\n')}`);

  console.log(
    `\n  ${sqlFiles.findings.length > 0 ? '✗' : '✓'} migrations/sql/: ${plural(sqlFiles.files.length, 'file')} linted where they live` +
      ` (every rule but the timeouts, which the DDL helper sets)${sqlFiles.findings.length > 0 ? `: ${plural(sqlFiles.findings.length, 'finding')}` : ''}`,
  );
  if (sqlFiles.findings.length > 0) {
    const report = squawk(OUTPUT_DIR, ['--exclude=require-lock-timeout,require-statement-timeout', ...new Set(sqlFiles.findings.map((f) => f.file))]);
    console.log(forTerminal(report.stdout + report.stderr));
  }

  const ok = findings.length === 0 && problems.length === 0 && sqlFiles.findings.length === 0;
  console.log(
    `\nsquawk: ${plural(errors, 'error')}, ${warnings > 0 ? `${plural(warnings, 'unexplained warning')}, ` : ''}` +
      `${plural(explained.length, 'explained warning')} in ${plural(statements, 'statement')}` +
      `${problems.length > 0 ? `, ${plural(problems.length, 'bad ignore comment')}` : ''}${ok ? '' : ' — FAILED'}`,
  );
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`lint:migrations could not run: ${error.stack ?? error.message}`);
    process.exit(2);
  },
);
