/**
 * One PostgreSQL server for the whole run: DATABASE_URL's server when set (it
 * needs CREATEDB and CREATEROLE), otherwise a throwaway embedded cluster. Each test file makes
 * its own databases on it (test/helpers/database.ts). The login users the API and the
 * verification run as (functions/local/login-users.ts) belong to the server: made here, once.
 */
import type { TestProject } from 'vitest/node';
import { startThrowawayPostgres, type RunningPostgres } from '../../functions/database/local-postgres';
import { LOCAL_LOGIN_USERS } from '../../functions/local/login-users';
import { provisionLoginUsers } from '../../functions/migration-runner/login-roles';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

let server: RunningPostgres | undefined;

export async function setup(project: TestProject): Promise<void> {
  const external = process.env.DATABASE_URL?.trim();
  if (!external) server = await startThrowawayPostgres();
  const adminUrl = external ?? server!.adminUrl;
  await provisionLoginUsers(adminUrl, LOCAL_LOGIN_USERS);
  project.provide('pgAdminUrl', adminUrl);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
