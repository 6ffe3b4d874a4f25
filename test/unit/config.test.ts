import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../functions/database/local-postgres';
import { loadConfig } from '../../functions/shared/config';

const run = promisify(execFile);

describe('configuration', () => {
  it('accepts DATABASE_URL, or the three Data API settings', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://x' }).DATABASE_URL).toBe('postgres://x');
    const dataApi = loadConfig({
      DATA_API_RESOURCE_ARN: 'arn:aws:rds:eu-west-1:1:cluster:c',
      DATA_API_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:s',
      DATA_API_DATABASE: 'ems',
    });
    expect(dataApi).toMatchObject({ DATA_API_DATABASE: 'ems', JWT_IDENTITY_CLAIM: 'email', MAX_BODY_BYTES: 16_384 });
  });

  it('names what is wrong', () => {
    expect(() => loadConfig({})).toThrow(/DATABASE_URL, or all of DATA_API_RESOURCE_ARN, DATA_API_SECRET_ARN and DATA_API_DATABASE/);
    expect(() => loadConfig({ DATA_API_RESOURCE_ARN: 'not-an-arn', DATABASE_URL: 'postgres://x' })).toThrow(/DATA_API_RESOURCE_ARN/);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://x', MAX_BODY_BYTES: '-3' })).toThrow(/MAX_BODY_BYTES/);
  });

  it('a handler with a missing variable fails when it loads (the cold start), naming it', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DATA') && k !== 'DATABASE_URL'));
    const attempt = run('npx', ['tsx', '-e', "require('./functions/handlers/health.ts')"], { cwd: PROJECT_ROOT, env });
    await expect(attempt).rejects.toMatchObject({ stderr: expect.stringMatching(/Invalid configuration: .*DATABASE_URL/) });
  });
});
