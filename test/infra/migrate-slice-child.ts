/**
 * One isComplete invocation of the migration Lambda in a process of its own,
 * for a test to kill mid-slice as a Lambda crash or timeout would: the event
 * comes in EMS_TEST_EVENT (JSON), the database URL in EMS_TEST_DATABASE_URL,
 * the time limits in the stack's variables (MIGRATION_SLICE_SECONDS, ...).
 * Prints "slice started", then the answer as JSON.
 */
import { createMigrationHandlers, migrationLambdaLimits } from '../../functions/handlers/migrate';

async function main(): Promise<void> {
  const url = process.env.EMS_TEST_DATABASE_URL;
  const event = process.env.EMS_TEST_EVENT;
  if (!url || !event) throw new Error('EMS_TEST_DATABASE_URL and EMS_TEST_EVENT are required');
  const { handler } = createMigrationHandlers({ resolveConnectionString: async () => url, ...migrationLambdaLimits() });
  console.log('slice started');
  console.log(JSON.stringify(await handler(JSON.parse(event) as never)));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
