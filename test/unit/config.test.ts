import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { localDatabaseFor, PROJECT_ROOT } from '../../functions/database/local-postgres';
import {
  checkEnvironment,
  ConfigurationError,
  databaseSettings,
  idTypeSetting,
  type IdType,
  loadConfig,
  localJwtSettings,
  localServerSettings,
  migrationLambdaSettings,
  migrationSettings,
} from '../../functions/shared/config';

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

  it('EMS_ID_TYPE as given (the verification compares with it only when set), and the embedded database of each id type', () => {
    expect(idTypeSetting({})).toBeUndefined();
    expect(idTypeSetting({ EMS_ID_TYPE: ' ' })).toBeUndefined();
    expect(idTypeSetting({ EMS_ID_TYPE: 'integer' })).toBe('integer');
    expect(() => idTypeSetting({ EMS_ID_TYPE: 'text' })).toThrow('Invalid configuration: EMS_ID_TYPE="text": expected uuid, bigint, integer');
    const types: (IdType | undefined)[] = [undefined, 'uuid', 'bigint', 'integer'];
    expect(types.map((t) => localDatabaseFor(t))).toEqual([
      'enhanced_messaging',
      'enhanced_messaging',
      'enhanced_messaging_bigint',
      'enhanced_messaging_integer',
    ]);
  });

  it('the migration tunables: defaults, accepted forms, and an error naming the variable and the expected form', () => {
    expect(migrationSettings({})).toEqual({ lockTimeout: '2s', statementTimeout: '15min', lockAttempts: 10, batchSize: 5000, quiet: false, idType: 'uuid' });
    expect(
      migrationSettings({
        MIGRATION_LOCK_TIMEOUT: '500ms',
        MIGRATION_STATEMENT_TIMEOUT: '1h',
        MIGRATION_LOCK_ATTEMPTS: ' 30 ',
        MIGRATION_BATCH_SIZE: '50',
        EMS_QUIET_MIGRATIONS: '1',
        EMS_ID_TYPE: 'bigint',
      }),
    ).toEqual({ lockTimeout: '500ms', statementTimeout: '1h', lockAttempts: 30, batchSize: 50, quiet: true, idType: 'bigint' });
    expect(() => migrationSettings({ EMS_ID_TYPE: 'serial' })).toThrow('Invalid configuration: EMS_ID_TYPE="serial": expected uuid, bigint, integer');
    expect(migrationSettings({ MIGRATION_LOCK_ATTEMPTS: '' }).lockAttempts).toBe(10); // blank: the default
    expect(() => migrationSettings({ MIGRATION_LOCK_ATTEMPTS: 'abc' })).toThrow(
      'Invalid configuration: MIGRATION_LOCK_ATTEMPTS="abc": expected a whole number of attempts from 1 to 1000',
    );
    for (const attempts of ['0', '-1', '2.5', '1e3', '1001']) {
      expect(() => migrationSettings({ MIGRATION_LOCK_ATTEMPTS: attempts }), attempts).toThrow(/MIGRATION_LOCK_ATTEMPTS/);
    }
    expect(() => migrationSettings({ MIGRATION_BATCH_SIZE: 'lots' })).toThrow(/MIGRATION_BATCH_SIZE="lots": expected a whole number of rows/);
    // Interpolated into SET LOCAL: only a PostgreSQL duration passes.
    for (const timeout of ["2s'; DROP TABLE sellers; --", '0', '0s', 'soon', '2 weeks']) {
      expect(() => migrationSettings({ MIGRATION_LOCK_TIMEOUT: timeout }), timeout).toThrow(/MIGRATION_LOCK_TIMEOUT=.*expected a positive PostgreSQL duration/);
    }
    expect(() => migrationSettings({ MIGRATION_STATEMENT_TIMEOUT: 'forever' })).toThrow(/MIGRATION_STATEMENT_TIMEOUT/);
    expect(() => migrationSettings({ EMS_QUIET_MIGRATIONS: 'yes' })).toThrow(/EMS_QUIET_MIGRATIONS="yes": expected 1 \(quiet\) or 0/);
  });

  it('the command lines and the local server: DATABASE_URL (never echoed), LOCAL_PG_PORT, PORT, HOST, EMS_SKIP_DEMO_DATA, LOCAL_JWT_*', () => {
    expect(databaseSettings({})).toEqual({ databaseUrl: undefined, localPgPort: 54_329 });
    expect(databaseSettings({ DATABASE_URL: ' postgres://u:p@h:5/d ', LOCAL_PG_PORT: '5433' })).toEqual({
      databaseUrl: 'postgres://u:p@h:5/d',
      localPgPort: 5433,
    });
    expect(() => databaseSettings({ DATABASE_URL: 'mysql://u:secret@h/d' })).toThrow(
      'Invalid configuration: DATABASE_URL (value not shown): expected a postgres:// or postgresql:// URL',
    );
    expect(() => databaseSettings({ LOCAL_PG_PORT: '70000' })).toThrow(/LOCAL_PG_PORT="70000": expected a TCP port/);
    expect(localServerSettings({})).toEqual({ port: 3000, host: '127.0.0.1', skipDemoData: false });
    expect(localServerSettings({ PORT: '0', HOST: '0.0.0.0', EMS_SKIP_DEMO_DATA: '1' })).toEqual({ port: 0, host: '0.0.0.0', skipDemoData: true });
    expect(() => localServerSettings({ PORT: 'eighty' })).toThrow(/PORT="eighty"/);
    expect(() => localServerSettings({ HOST: 'a host' })).toThrow(/HOST="a host"/);
    expect(localJwtSettings({ LOCAL_JWT_KEY_FILE: '/tmp/k.json' })).toMatchObject({ keyFile: '/tmp/k.json', audience: 'enhanced-messaging-api' });
    expect(() => migrationLambdaSettings({})).toThrow(/DATABASE_SECRET_ARN is not set/);
    expect(() => migrationLambdaSettings({ DATABASE_SECRET_ARN: 'secret' })).toThrow(/DATABASE_SECRET_ARN="secret": expected the ARN/);
  });

  it('a command checks everything it reads at once, and says every malformed variable', () => {
    const env = { MIGRATION_LOCK_ATTEMPTS: 'abc', PORT: 'x', DATABASE_URL: 'postgres://h/d' };
    let error: unknown;
    try {
      checkEnvironment(
        () => databaseSettings(env),
        () => migrationSettings(env),
        () => localServerSettings(env),
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).variables).toEqual(['MIGRATION_LOCK_ATTEMPTS', 'PORT']);
    expect((error as Error).message).toMatch(/^Invalid configuration: MIGRATION_LOCK_ATTEMPTS="abc": .*; PORT="x": /);
  });
});
