/**
 * 2. Listing ownership tracking: who receives a listing's messages now
 * (`current_owner_id`, `current_owner_type`) and who listed it
 * (`original_seller_id`), backfilled for existing listings, with indexes.
 *
 * Order matters on a live database: the columns come first, then the trigger
 * that fills them for listings written from now on, then the batched backfill of
 * older rows, then constraints and indexes that need complete data.
 */
import type { Knex } from 'knex';
import {
  addConstraintSafely,
  BACKFILL_BATCH_SIZE,
  backfillInBatches,
  createIndexConcurrently,
  ddl,
  dropConstraint,
  dropIndexConcurrently,
} from './lib/safe-ddl';
import { readSqlFile } from './lib/sql-files';

export const config = { transaction: false };

/** `seller`: a person owns it; the others: the company fallback holds it for a member who is not active. */
export const OWNER_TYPES = ['seller', 'company_handler', 'company_admin', 'company_owner', 'unassigned'] as const;

export async function up(knex: Knex): Promise<void> {
  await ddl(knex, [
    `ALTER TABLE listed_cars ADD COLUMN IF NOT EXISTS current_owner_id ems_seller_id`,
    // Constant default: catalog-only, no rewrite. Every pre-existing listing is owned by its seller.
    `ALTER TABLE listed_cars ADD COLUMN IF NOT EXISTS current_owner_type text NOT NULL DEFAULT 'seller'`,
    `ALTER TABLE listed_cars ADD COLUMN IF NOT EXISTS original_seller_id ems_seller_id`,
  ]);

  await ddl(knex, [
    readSqlFile('history/20250622121000/01_listed_cars_track_ownership_function.sql'),
    readSqlFile('history/20250622121000/02_listed_cars_track_ownership_trigger.sql'),
  ]);

  await backfillInBatches(knex, {
    table: 'listed_cars',
    set: 'current_owner_id = coalesce(t.current_owner_id, t.seller_id), original_seller_id = coalesce(t.original_seller_id, t.seller_id)',
    needsUpdate: `t.original_seller_id IS NULL OR (t.current_owner_id IS NULL AND t.current_owner_type <> 'unassigned')`,
    batchSize: BACKFILL_BATCH_SIZE,
  });

  await addConstraintSafely(
    knex,
    'listed_cars',
    'listed_cars_current_owner_type_check',
    `CHECK (current_owner_type IN (${OWNER_TYPES.map((t) => `'${t}'`).join(', ')}))`,
  );
  await addConstraintSafely(
    knex,
    'listed_cars',
    'listed_cars_ownership_complete_check',
    `CHECK (original_seller_id IS NOT NULL AND (current_owner_id IS NULL) = (current_owner_type = 'unassigned'))`,
  );
  await addConstraintSafely(knex, 'listed_cars', 'listed_cars_current_owner_id_fkey', 'FOREIGN KEY (current_owner_id) REFERENCES sellers (id)');
  await addConstraintSafely(knex, 'listed_cars', 'listed_cars_original_seller_id_fkey', 'FOREIGN KEY (original_seller_id) REFERENCES sellers (id)');

  await createIndexConcurrently(knex, 'listed_cars_current_owner_active_idx', `ON listed_cars (current_owner_id) WHERE status = 'active'`);
  await createIndexConcurrently(knex, 'listed_cars_original_seller_idx', `ON listed_cars (original_seller_id) WHERE current_owner_type <> 'seller'`);
  // Company stats count active listings by owner type: an index-only scan with this partial index.
  await createIndexConcurrently(knex, 'listed_cars_company_active_owner_type_idx', `ON listed_cars (company_id, current_owner_type) WHERE status = 'active'`);
}

export async function down(knex: Knex): Promise<void> {
  await dropIndexConcurrently(knex, 'listed_cars_company_active_owner_type_idx');
  await dropIndexConcurrently(knex, 'listed_cars_original_seller_idx');
  await dropIndexConcurrently(knex, 'listed_cars_current_owner_active_idx');
  await dropConstraint(knex, 'listed_cars', 'listed_cars_original_seller_id_fkey');
  await dropConstraint(knex, 'listed_cars', 'listed_cars_current_owner_id_fkey');
  await dropConstraint(knex, 'listed_cars', 'listed_cars_ownership_complete_check');
  await dropConstraint(knex, 'listed_cars', 'listed_cars_current_owner_type_check');
  await ddl(knex, [
    `DROP TRIGGER IF EXISTS listed_cars_track_ownership ON listed_cars`,
    `DROP FUNCTION IF EXISTS listed_cars_track_ownership()`,
    `-- squawk-ignore ban-drop-column -- down drops only a column its up added
     ALTER TABLE listed_cars DROP COLUMN IF EXISTS original_seller_id`,
    `-- squawk-ignore ban-drop-column -- down drops only a column its up added
     ALTER TABLE listed_cars DROP COLUMN IF EXISTS current_owner_type`,
    `-- squawk-ignore ban-drop-column -- down drops only a column its up added
     ALTER TABLE listed_cars DROP COLUMN IF EXISTS current_owner_id`,
  ]);
}
