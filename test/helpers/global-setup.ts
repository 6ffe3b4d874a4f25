/**
 * One PostgreSQL server for the whole run: DATABASE_URL's server when set (it
 * needs CREATEDB), otherwise a throwaway embedded cluster. Each test file makes
 * its own databases on it (test/helpers/database.ts).
 */
import type { TestProject } from 'vitest/node';
import { startThrowawayPostgres, type RunningPostgres } from '../../functions/database/local-postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

let server: RunningPostgres | undefined;

export async function setup(project: TestProject): Promise<void> {
  const external = process.env.DATABASE_URL?.trim();
  if (external) {
    project.provide('pgAdminUrl', external);
    return;
  }
  server = await startThrowawayPostgres();
  project.provide('pgAdminUrl', server.adminUrl);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
