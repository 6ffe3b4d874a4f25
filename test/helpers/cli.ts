/** Runs the project's commands as a user would, from the repository root (or another checkout's). */
import { exec } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from '../../functions/database/local-postgres';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment of a command pointed at `url` (quiet migrations, as in the test run). */
export function commandEnv(url: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, DATABASE_URL: url, EMS_QUIET_MIGRATIONS: '1', ...extra };
}

/**
 * Runs `command` through the shell. With `viaBin`, a leading `npx knex` runs
 * `node_modules/.bin/knex` instead (the same program, without npx's start-up cost).
 */
export function runCommand(
  command: string,
  env: NodeJS.ProcessEnv,
  options: { viaBin?: boolean; timeoutMs?: number; cwd?: string } = {},
): Promise<CommandResult> {
  const actual = options.viaBin ? command.replace(/^npx knex /, `${path.join('node_modules', '.bin', 'knex')} `) : command;
  return new Promise((resolve) => {
    exec(actual, { cwd: options.cwd ?? PROJECT_ROOT, env, timeout: options.timeoutMs ?? 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
