/**
 * `npx tsx functions/migration-runner/cli.ts` as a child process that a test can
 * kill at a chosen moment, as a crash or an out-of-memory kill would.
 *
 * The child is started in a process group of its own: npx and tsx each start a
 * further process, and SIGKILL cannot be relayed, so the whole group is killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT } from '../../functions/database/local-postgres';
import type { Database } from '../../functions/database/port';

export interface ChildRunner {
  readonly process: ChildProcess;
  readonly lines: string[];
  /** Resolves with the first stdout line matching `pattern` (including lines already seen). */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGKILL to the whole process group; resolves when the child has exited. */
  kill(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startChildRunner(args: string[], env: NodeJS.ProcessEnv): ChildRunner {
  const child = spawn('npx', ['tsx', 'functions/migration-runner/cli.ts', ...args], {
    cwd: PROJECT_ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  child.stderr!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

  return {
    process: child,
    lines,
    exited,
    waitForLine(pattern, timeoutMs = 30_000) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output so far:\n${lines.join('\n')}`)),
          timeoutMs,
        );
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`child exited before a line matching ${pattern}; output:\n${lines.join('\n')}`));
        });
      });
    },
    async kill() {
      killGroup(child);
      return exited;
    },
  };
}

/** Kills the child's process group if it is still there (safe to call twice). */
export function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

const RUNNER_APPLICATIONS = ['ems-migrations', 'ems-migration-runner', 'ems-verify'];

/**
 * Polls until a migration session of `database` waits on a lock in a statement matching `pattern`
 * (other short waits, e.g. an index build waiting for autovacuum, are ignored); returns the statement.
 */
export async function waitForBlockedMigration(db: Database, database: string, pattern: RegExp = /./, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await db.query<{ query: string }>(
      `SELECT query FROM pg_stat_activity
        WHERE datname = $1 AND application_name IN ('ems-migrations', 'ems-migration-runner') AND wait_event_type = 'Lock'`,
      [database],
    );
    const match = rows.find((row) => pattern.test(row.query));
    if (match) return match.query;
    if (Date.now() > deadline) throw new Error(`no migration session of ${database} waited on a lock in ${pattern} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Ends the server sessions a killed runner left behind (a session blocked on a
 * lock only notices its client is gone when it next talks to it) and waits until they are gone.
 */
export async function endSessionsOfDeadRunner(db: Database, database: string): Promise<void> {
  for (let i = 0; i < 500; i += 1) {
    const rows = await db.query<{ pid: number }>(
      `SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = ANY($2)`,
      [database, RUNNER_APPLICATIONS],
    );
    if (rows.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`sessions of the killed runner on ${database} did not end`);
}
