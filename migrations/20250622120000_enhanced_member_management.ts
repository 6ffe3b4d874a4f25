/**
 * 1. Enhanced member management: member status with removal/reactivation
 * tracking, the `company_member_audit` trail, the widened listing status
 * constraint, and the `active_company_members` view and
 * `get_member_statistics()` helper.
 */
import type { Knex } from 'knex';
import { addConstraintSafely, BACKFILL_BATCH_SIZE, backfillInBatches, ddl, dropConstraint } from './lib/safe-ddl';
import { ID_DOMAINS } from './lib/id-domains';
import { readSqlFile } from './lib/sql-files';

export const config = { transaction: false };

const LISTING_STATUSES_BEFORE = `'draft', 'active', 'sold', 'archived'`;
// `pending_reassignment`: a removed member's listing that nobody in the company can take over yet.
const LISTING_STATUSES_AFTER = `'draft', 'active', 'sold', 'archived', 'pending_reassignment'`;

/** One domain per entity id, over the type the marketplace's tables use (lib/id-domains.ts names them). */
export const ID_DOMAINS_FILE = 'ids/ems_id_domains.sql';

export async function up(knex: Knex): Promise<void> {
  // First the id types, read off the marketplace's own tables: everything below is declared with them.
  await ddl(knex, readSqlFile(ID_DOMAINS_FILE));
  // A constant default is stored in the catalog (PostgreSQL 11+): no table rewrite.
  await ddl(knex, [
    `ALTER TABLE sellers ADD COLUMN IF NOT EXISTS member_status text NOT NULL DEFAULT 'active'`,
    `ALTER TABLE sellers ADD COLUMN IF NOT EXISTS removed_at timestamptz`,
    `ALTER TABLE sellers ADD COLUMN IF NOT EXISTS removed_by text`,
    `ALTER TABLE sellers ADD COLUMN IF NOT EXISTS removal_reason text`,
    `ALTER TABLE sellers ADD COLUMN IF NOT EXISTS reactivated_at timestamptz`,
    `ALTER TABLE sellers ADD COLUMN IF NOT EXISTS reactivated_by text`,
  ]);
  await addConstraintSafely(knex, 'sellers', 'sellers_member_status_check', `CHECK (member_status IN ('active', 'removed', 'suspended'))`);

  await ddl(knex, [
    `CREATE TABLE IF NOT EXISTS company_member_audit (
       id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       company_id ems_company_id REFERENCES companies (id),
       seller_id ems_seller_id NOT NULL REFERENCES sellers (id),
       action text NOT NULL CONSTRAINT company_member_audit_action_check
         CHECK (action IN ('removed', 'suspended', 'reactivated')),
       previous_status text NOT NULL,
       new_status text NOT NULL,
       actor text NOT NULL,
       reason text,
       -- squawk-ignore prefer-bigint-over-int -- counts what one membership change moved; int is ample
       listings_moved integer NOT NULL DEFAULT 0,
       -- squawk-ignore prefer-bigint-over-int -- counts what one membership change moved; int is ample
       listings_restored integer NOT NULL DEFAULT 0,
       -- squawk-ignore prefer-bigint-over-int -- counts what one membership change moved; int is ample
       conversations_moved integer NOT NULL DEFAULT 0,
       moved_to_seller_id ems_seller_id REFERENCES sellers (id),
       transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
       created_at timestamptz NOT NULL DEFAULT clock_timestamp()
     )`,
    `CREATE INDEX IF NOT EXISTS company_member_audit_company_created_idx ON company_member_audit (company_id, created_at)`,
    `CREATE INDEX IF NOT EXISTS company_member_audit_seller_idx ON company_member_audit (seller_id, id)`,
  ]);

  // Widen the listing status constraint: drop and re-add NOT VALID in one short
  // transaction, then validate without blocking writes.
  await knexConstraintSwap(knex, LISTING_STATUSES_AFTER);

  await ddl(knex, [
    // Who did it: the application sets `ems.actor` per transaction; plain SQL falls back to the database user.
    readSqlFile('history/20250622120000/01_ems_current_actor_function.sql'),
    readSqlFile('history/20250622120000/02_sellers_member_status_guard_function.sql'),
    readSqlFile('history/20250622120000/03_sellers_member_status_guard_trigger.sql'),
    readSqlFile('history/20250622120000/04_sellers_member_status_audit_function.sql'),
    readSqlFile('history/20250622120000/05_sellers_member_status_audit_trigger.sql'),
    readSqlFile('history/20250622120000/06_active_company_members_view.sql'),
    readSqlFile('history/20250622120000/07_get_member_statistics_function.sql'),
  ]);
}

async function knexConstraintSwap(knex: Knex, statuses: string): Promise<void> {
  const current = await knex.raw(
    `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE conrelid = 'listed_cars'::regclass AND conname = 'listed_cars_status_check'`,
  );
  const definition = (current.rows[0] as { def: string } | undefined)?.def ?? '';
  const wanted = statuses.split(',').map((s) => s.trim().replace(/'/g, ''));
  const alreadyWanted =
    definition !== '' && wanted.every((s) => definition.includes(`'${s}'`)) && countQuoted(definition) === wanted.length;
  if (!alreadyWanted) {
    await ddl(knex, [
      `ALTER TABLE listed_cars DROP CONSTRAINT IF EXISTS listed_cars_status_check`,
      `ALTER TABLE listed_cars ADD CONSTRAINT listed_cars_status_check CHECK (status IN (${statuses})) NOT VALID`,
    ]);
  }
  await addConstraintSafely(knex, 'listed_cars', 'listed_cars_status_check', `CHECK (status IN (${statuses}))`);
}

function countQuoted(definition: string): number {
  return (definition.match(/'[^']*'/g) ?? []).length;
}

export async function down(knex: Knex): Promise<void> {
  await ddl(knex, [
    `DROP FUNCTION IF EXISTS get_member_statistics`,
    `DROP VIEW IF EXISTS active_company_members`,
    `DROP TRIGGER IF EXISTS sellers_member_status_audit ON sellers`,
    `DROP FUNCTION IF EXISTS sellers_member_status_audit()`,
    `DROP TRIGGER IF EXISTS sellers_member_status_guard ON sellers`,
    `DROP FUNCTION IF EXISTS sellers_member_status_guard()`,
    `DROP FUNCTION IF EXISTS ems_current_actor()`,
  ]);
  // Listings parked by the messaging system go back to the status they had before it.
  await backfillInBatches(knex, {
    table: 'listed_cars',
    set: `status = 'active'`,
    needsUpdate: `t.status = 'pending_reassignment'`,
    batchSize: BACKFILL_BATCH_SIZE,
  });
  await knexConstraintSwap(knex, LISTING_STATUSES_BEFORE);
  await ddl(
    knex,
    `-- squawk-ignore ban-drop-table -- down drops only the table its up created (roll back the code using it first)
     DROP TABLE IF EXISTS company_member_audit`,
  );
  await dropConstraint(knex, 'sellers', 'sellers_member_status_check');
  await ddl(knex, [
    `-- squawk-ignore ban-drop-column -- down drops only a column its up added
     ALTER TABLE sellers DROP COLUMN IF EXISTS reactivated_by`,
    `-- squawk-ignore ban-drop-column -- down drops only a column its up added
     ALTER TABLE sellers DROP COLUMN IF EXISTS reactivated_at`,
    `-- squawk-ignore ban-drop-column -- down drops only a column its up added
     ALTER TABLE sellers DROP COLUMN IF EXISTS removal_reason`,
    `-- squawk-ignore ban-drop-column -- down drops only a column its up added
     ALTER TABLE sellers DROP COLUMN IF EXISTS removed_by`,
    `-- squawk-ignore ban-drop-column -- down drops only a column its up added
     ALTER TABLE sellers DROP COLUMN IF EXISTS removed_at`,
    `-- squawk-ignore ban-drop-column -- down drops only a column its up added
     ALTER TABLE sellers DROP COLUMN IF EXISTS member_status`,
  ]);
  // Last: nothing of the messaging system uses them any more (a later migration left behind fails here, loudly).
  await ddl(knex, `DROP DOMAIN IF EXISTS ${ID_DOMAINS.join(', ')}`);
}
