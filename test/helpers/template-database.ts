/**
 * A database filled once and copied for each test (CREATE DATABASE ... TEMPLATE),
 * for tests that need the same sizeable data many times.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { databaseUrl } from '../../functions/database/local-postgres';
import { PgDatabase } from '../../functions/database/pg-adapter';
import { LOCAL_API_USER, LOCAL_RELAY_USER, LOCAL_VERIFIER_USER } from '../../functions/local/login-users';
import { connectionStringAs } from '../../functions/migration-runner/login-roles';
import type { TestDatabase } from './database';

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface TemplateDatabase {
  readonly name: string;
  /** A new database with the template's contents (dropped, with its connections, by its `drop`). */
  copy(): Promise<TestDatabase>;
  drop(): Promise<void>;
}

/** Creates a database, runs `fill(url, db)` on it, and closes every connection so it can serve as a template. */
export async function createTemplateDatabase(fill: (url: string, db: PgDatabase) => Promise<void>): Promise<TemplateDatabase> {
  const name = `ems_template_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = databaseUrl(inject('pgAdminUrl'), name);
  const db = new PgDatabase(url, { max: 4, applicationName: 'ems-test' });
  try {
    await fill(url, db);
  } finally {
    await db.close();
  }
  return {
    name,
    copy: async () => {
      const copyName = `ems_test_${randomBytes(6).toString('hex')}`;
      await admin(`CREATE DATABASE ${copyName} TEMPLATE ${name}`);
      const copyUrl = databaseUrl(inject('pgAdminUrl'), copyName);
      const copyDb = new PgDatabase(copyUrl, { max: 8, applicationName: 'ems-test' });
      return {
        name: copyName,
        url: copyUrl,
        db: copyDb,
        apiUrl: connectionStringAs(copyUrl, LOCAL_API_USER),
        verifierUrl: connectionStringAs(copyUrl, LOCAL_VERIFIER_USER),
        relayUrl: connectionStringAs(copyUrl, LOCAL_RELAY_USER),
        drop: async () => {
          await copyDb.close();
          await admin(`DROP DATABASE IF EXISTS ${copyName} WITH (FORCE)`);
        },
      };
    },
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
