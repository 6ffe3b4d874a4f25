/**
 * What a Lambda bundle leaves out, in one place for the stack (constructs/project-function.ts) and
 * the bench (test/bench/bundles.ts), which builds and measures the bundles as they are deployed.
 * No CDK import: the bench loads this without aws-cdk-lib.
 */

/**
 * Never bundled: '@aws-sdk/*' is provided by the Node.js 24 runtime (bundling it would put every
 * API handler over the 1 MB bundle budget), 'pg-native' is an optional native binding node-postgres
 * only loads when asked to.
 */
export const DEFAULT_EXTERNAL_MODULES: readonly string[] = ['@aws-sdk/*', 'pg-native'];

/**
 * node-postgres and its own packages. functions/database/from-config.ts loads them only when
 * DATABASE_URL is set (`npm start` and the tests, which run the handler sources, not bundles).
 * A function deployed with the Data API settings and no DATABASE_URL never does, so its bundle
 * leaves them out: about 80 KB of every API bundle, a third of the 250 KB budget. Were such a
 * function ever given DATABASE_URL, its first request would fail with "Cannot find module 'pg'".
 */
export const NODE_POSTGRES_MODULES: readonly string[] = ['pg', 'pg-*'];

/** Whether a function with this environment reaches its database only through the RDS Data API. */
export function reachesDatabaseOnlyThroughDataApi(environment: Readonly<Record<string, unknown>>): boolean {
  return environment.DATA_API_RESOURCE_ARN !== undefined && environment.DATABASE_URL === undefined;
}

/** The modules a function's bundle leaves out, given its environment and the further ones it names. */
export function externalModulesFor(environment: Readonly<Record<string, unknown>>, further: readonly string[] = []): string[] {
  return [
    ...DEFAULT_EXTERNAL_MODULES,
    ...(reachesDatabaseOnlyThroughDataApi(environment) ? NODE_POSTGRES_MODULES : []),
    ...further,
  ];
}
