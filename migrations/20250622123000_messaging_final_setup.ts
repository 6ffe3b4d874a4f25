/**
 * 4. Final setup: documentation comments, the performance indexes of the hot
 * queries (built CONCURRENTLY: `conversations` and `sellers` are big, live
 * tables), a validation that fails the migration loudly if any object of the
 * system is missing, and a short status report.
 */
import type { Knex } from 'knex';
import { MISSING_OBJECTS_SQL, missingObjectsParameters, PERFORMANCE_INDEXES } from './lib/expected-objects';
import { createIndexConcurrently, ddl, dropIndexConcurrently } from './lib/safe-ddl';

export const config = { transaction: false };

// Only objects the messaging migrations created are commented: the marketplace's
// own tables keep whatever comments they have.
export const COMMENTS: Record<string, string> = {
  'COLUMN sellers.member_status': 'Membership state: active, removed or suspended. Only active members receive buyer messages.',
  'COLUMN sellers.removed_at': 'When the member last left active status.',
  'COLUMN sellers.removed_by': 'Who removed the member (ems.actor setting, else the database user).',
  'COLUMN sellers.removal_reason': 'Why the member was removed.',
  'COLUMN sellers.reactivated_at': 'When the member was last reactivated.',
  'COLUMN sellers.reactivated_by': 'Who reactivated the member.',
  'COLUMN listed_cars.current_owner_id': 'Seller who receives messages about this listing now; NULL while unassigned.',
  'COLUMN listed_cars.current_owner_type':
    'seller: a person owns it; company_handler/company_admin/company_owner: the company fallback holds it for an inactive member; unassigned.',
  'COLUMN listed_cars.original_seller_id': 'Seller who listed the car; reactivation restores listings to them.',
  'TABLE company_member_audit': 'Audit trail of member removals, suspensions and reactivations, with what moved.',
  'TABLE conversation_ownership_log': 'Every change of who receives a conversation: an unbroken chain per conversation.',
  'TABLE company_message_handlers': 'Members who receive messages for listings whose owner is no longer active, by priority.',
  'VIEW listing_message_routing': 'Each listing with the recipient get_listing_message_recipient() routes it to.',
  'VIEW active_company_message_handlers': 'Handlers who can receive messages now, with their open-conversation load.',
  'VIEW active_company_members': 'Members whose status is active, with their company.',
  'FUNCTION get_listing_message_recipient': 'Who receives messages about a listing: its active owner, else the company fallback chain.',
  'FUNCTION update_conversation_ownership': 'Moves a conversation to another active member, logged.',
  'FUNCTION get_member_statistics': 'Member counts by status and recent removals/reactivations for a company.',
};

export async function up(knex: Knex): Promise<void> {
  await ddl(
    knex,
    Object.entries(COMMENTS).map(([target, text]) => `COMMENT ON ${target} IS '${text.replace(/'/g, "''")}'`),
  );
  for (const [name, definition] of Object.entries(PERFORMANCE_INDEXES)) {
    await createIndexConcurrently(knex, name, definition);
  }

  const missing = await knex.raw(MISSING_OBJECTS_SQL.replace(/\$\d/g, '?'), missingObjectsParameters());
  const rows = missing.rows as { kind: string; name: string }[];
  if (rows.length > 0) {
    throw new Error(
      `Enhanced messaging validation failed, missing: ${rows.map((r) => `${r.kind} ${r.name}`).join(', ')}`,
    );
  }

  const report = await knex.raw(`
    SELECT (SELECT count(*) FROM sellers WHERE member_status = 'active')::int AS active_members,
           (SELECT count(*) FROM sellers WHERE member_status <> 'active')::int AS inactive_members,
           (SELECT count(*) FROM listed_cars)::int AS listings,
           (SELECT count(*) FROM company_message_handlers WHERE is_active)::int AS active_handlers`);
  const status = report.rows[0] as Record<string, number>;
  if (process.env.EMS_QUIET_MIGRATIONS !== '1') {
    console.info(
      `Enhanced messaging installed: ${status.active_members} active members, ${status.inactive_members} inactive, ` +
        `${status.listings} listings, ${status.active_handlers} active message handlers.`,
    );
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const name of Object.keys(PERFORMANCE_INDEXES).reverse()) await dropIndexConcurrently(knex, name);
  await ddl(
    knex,
    Object.keys(COMMENTS)
      .reverse()
      .map((target) => `COMMENT ON ${target} IS NULL`),
  );
}
