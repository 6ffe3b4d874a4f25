/**
 * 5. Company-scoped routing: a buyer's message about a company's listing reaches
 * only an active member of THAT company, on every path (the API, the services,
 * any plain SQL of the marketplace), under races.
 *
 * Migrations 1 and 3 made routing depend on `member_status` alone, so a member who
 * moved to another company (`sellers.company_id` changed or cleared) could still
 * receive the old company's leads. This migration re-creates the routing from the
 * `.sql` files under migrations/sql/ (README "How routing works" says which rule
 * lives where):
 *  - one rule for who may hold a listing (routing/ems_holder_rule.sql), used by the
 *    lookup, every guard and every re-check after a lock;
 *  - leaving a company (status, company change, DELETE) hands over like a removal,
 *    audited with the company left; reactivation restores only the current company's;
 *  - a buyer message is stored for exactly whom the lookup names;
 *  - the last owner/admin rule covers role changes, company moves and DELETE;
 *  - one lock order: the member's own row, its company rows, other sellers,
 *    listings, conversations; no setting turns a guard off.
 * Then it hands over what existing data still holds against the rule, in batches.
 */
import type { Knex } from 'knex';
import * as memberManagement from './20250622120000_enhanced_member_management';
import * as conversationTracking from './20250622122000_messaging_conversation_tracking';
import { MISSING_OBJECTS_SQL, missingObjectsParameters } from './lib/expected-objects';
import {
  addConstraintSafely,
  createIndexConcurrently,
  ddl,
  dropConstraint,
  dropIndexConcurrently,
  setInListCheck,
} from './lib/safe-ddl';
import { functionDefinedIn, replaceUuidSignatures } from './lib/id-signatures';
import { historySqlFiles, readSqlFile } from './lib/sql-files';

export const config = { transaction: false };

export const AUDIT_ACTIONS = ['removed', 'suspended', 'reactivated', 'left_company'] as const;
export const OWNERSHIP_LOG_REASONS = [
  ...conversationTracking.OWNERSHIP_LOG_REASONS,
  'member_left_company',
  'routed_to_recipient',
] as const;

// Functions first (SQL-language bodies are checked against what exists), then trigger functions
// with their triggers. All in one transaction: the old rules are replaced at one instant.
export const SQL_FILES = [
  'routing/ems_holder_rule.sql',
  'routing/ems_can_hold.sql',
  'routing/ems_lock_holder.sql',
  'routing/ems_fallback_recipient.sql',
  'routing/ems_locked_fallback.sql',
  'routing/ems_handover_recipient.sql',
  'routing/get_listing_message_recipient.sql',
  'routing/ems_lock_listing_recipient.sql',
  'routing/ems_locked_listing_taker.sql',
  'ownership/update_conversation_ownership.sql',
  'ownership/ems_reassign_listing.sql',
  'membership/ems_lock_companies.sql',
  'membership/ems_assert_not_last_admin.sql',
  'membership/ems_move_holdings_to_fallback.sql',
  'membership/ems_restore_member_holdings.sql',
  'membership/get_member_statistics.sql',
  'membership/company_message_handlers_release.sql',
  'ownership/listed_cars_validate_owner.sql',
  'ownership/listed_cars_reroute_conversations.sql',
  'ownership/conversations_route_new.sql',
  'ownership/conversations_validate_owner.sql',
  'ownership/messages_route_buyer_message.sql',
  'membership/sellers_membership_guard.sql',
  'membership/sellers_membership_handover.sql',
  'membership/sellers_delete_guard.sql',
  'ownership/conversations_delete_history.sql',
];

// Replaced by sellers_membership_guard / sellers_membership_handover and ems_lock_listing_recipient.
const SUPERSEDED = [
  `DROP TRIGGER IF EXISTS sellers_member_status_guard ON sellers`,
  `DROP TRIGGER IF EXISTS sellers_member_status_audit ON sellers`,
  `DROP TRIGGER IF EXISTS sellers_member_status_reassign ON sellers`,
  `DROP TRIGGER IF EXISTS sellers_company_change_reassign ON sellers`,
  `DROP FUNCTION IF EXISTS sellers_member_status_guard()`,
  `DROP FUNCTION IF EXISTS sellers_member_status_audit()`,
  `DROP FUNCTION IF EXISTS sellers_member_status_reassign()`,
  `DROP FUNCTION IF EXISTS sellers_company_change_reassign()`,
  `DROP FUNCTION IF EXISTS ems_locked_listing_recipient`,
];

const HEAL_BATCH = 500;

/** Active listings whose holder may not hold them (written before these rules), in id order. */
const LISTINGS_TO_HEAL = `
  SELECT l.id FROM listed_cars l LEFT JOIN sellers s ON s.id = l.current_owner_id
   WHERE l.status = 'active' AND (?::ems_listing_id IS NULL OR l.id > ?::ems_listing_id)
     AND NOT coalesce(ems_holder_rule(s.id, s.member_status, s.company_id, l.company_id, l.seller_id), false)
   ORDER BY l.id LIMIT ?`;

/**
 * Open conversations held by someone who may not hold their listing. (One held by nobody is
 * unassigned, not misrouted: its next buyer message goes to the listing's recipient.)
 */
const CONVERSATIONS_TO_HEAL = `
  SELECT c.id FROM conversations c JOIN listed_cars l ON l.id = c.listing_id JOIN sellers s ON s.id = c.seller_id
   WHERE c.status = 'open' AND (?::ems_conversation_id IS NULL OR c.id > ?::ems_conversation_id)
     AND NOT ems_holder_rule(s.id, s.member_status, s.company_id, l.company_id, l.seller_id)
   ORDER BY c.id LIMIT ?`;

async function healInBatches(knex: Knex, select: string, fix: string): Promise<void> {
  let after: string | null = null;
  for (;;) {
    const result: { rows: { id: string }[] } = await knex.raw(select, [after, after, HEAL_BATCH]);
    const ids = result.rows.map((r) => r.id);
    if (ids.length === 0) return;
    await knex.transaction(async (trx) => {
      await trx.raw(`SELECT set_config('ems.actor', 'migration:company_scoped_routing', true)`);
      await trx.raw(fix, [ids]);
    });
    after = ids[ids.length - 1]!;
  }
}

export async function up(knex: Knex): Promise<void> {
  await setInListCheck(knex, 'company_member_audit', 'company_member_audit_action_check', 'action', AUDIT_ACTIONS);
  await setInListCheck(knex, 'conversation_ownership_log', 'conversation_ownership_log_reason_check', 'reason', OWNERSHIP_LOG_REASONS);
  // An install from before the id domains: its uuid definitions of these functions make way (lib/id-signatures.ts).
  const replaced = await replaceUuidSignatures(knex, SQL_FILES);
  await ddl(knex, [...replaced.drop, ...SQL_FILES.map((file) => readSqlFile(file)), ...SUPERSEDED, ...replaced.restore]);
  // The bulk hand-over's cost (see ownership/conversations_delete_history.sql): no key check per
  // log row, and no index nothing reads (the history is read by conversation, stats by company).
  await dropConstraint(knex, 'conversation_ownership_log', 'conversation_ownership_log_conversation_id_fkey');
  await dropIndexConcurrently(knex, 'conversation_ownership_log_changed_at_idx');

  await healInBatches(knex, LISTINGS_TO_HEAL, `SELECT ems_reassign_listing(id, 'member_left_company') FROM unnest(?::ems_listing_id[]) AS id ORDER BY id`);
  await healInBatches(
    knex,
    CONVERSATIONS_TO_HEAL,
    `SELECT update_conversation_ownership(c.id, ems_lock_listing_recipient(c.listing_id, false), 'owner_inactive')
       FROM conversations c WHERE c.id = ANY (?::ems_conversation_id[]) ORDER BY c.id`,
  );

  const missing = await knex.raw(MISSING_OBJECTS_SQL.replace(/\$\d/g, '?'), missingObjectsParameters({ companyScopedRouting: true }));
  const rows = missing.rows as { kind: string; name: string }[];
  if (rows.length > 0) {
    throw new Error(`Company-scoped routing validation failed, missing: ${rows.map((r) => `${r.kind} ${r.name}`).join(', ')}`);
  }
}

export async function down(knex: Knex): Promise<void> {
  // Rows written with what only this migration allows, in the words of the narrower constraints.
  await knex.raw(`UPDATE company_member_audit SET action = 'removed', reason = concat_ws(': ', 'left the company', reason)
                   WHERE action = 'left_company'`);
  await knex.raw(`UPDATE conversation_ownership_log SET reason = CASE reason WHEN 'member_left_company' THEN 'member_removed' ELSE 'owner_inactive' END
                   WHERE reason IN ('member_left_company', 'routed_to_recipient')`);
  await createIndexConcurrently(knex, 'conversation_ownership_log_changed_at_idx', 'ON conversation_ownership_log (changed_at)');
  await addConstraintSafely(
    knex,
    'conversation_ownership_log',
    'conversation_ownership_log_conversation_id_fkey',
    'FOREIGN KEY (conversation_id) REFERENCES conversations (id) ON DELETE CASCADE',
  );
  // The rules as migrations 1 and 3 define them (their up() is idempotent: it re-creates the
  // functions and triggers this migration replaced and leaves everything else as it is)...
  // On an install from before the id domains that never ran migration 9, the uuid definitions of
  // what they re-create are replaced by theirs first, in one transaction (lib/id-signatures.ts).
  const earlierFiles = [...historySqlFiles('20250622120000'), ...historySqlFiles('20250622122000')];
  const replaced = await replaceUuidSignatures(knex, earlierFiles);
  if (replaced.functions.length > 0) {
    const files = earlierFiles.filter((file) => replaced.functions.includes(functionDefinedIn(readSqlFile(file)) ?? ''));
    await ddl(knex, [...replaced.drop, ...files.map((file) => readSqlFile(file)), ...replaced.restore]);
  }
  await memberManagement.up(knex);
  await conversationTracking.up(knex);
  // ...then what only this migration added.
  await ddl(knex, [
    `DROP TRIGGER IF EXISTS conversations_delete_history ON conversations`,
    `DROP FUNCTION IF EXISTS conversations_delete_history()`,
    `DROP TRIGGER IF EXISTS sellers_delete_guard ON sellers`,
    `DROP TRIGGER IF EXISTS sellers_membership_handover ON sellers`,
    `DROP TRIGGER IF EXISTS sellers_membership_guard ON sellers`,
    `DROP TRIGGER IF EXISTS listed_cars_reroute_conversations ON listed_cars`,
    `DROP FUNCTION IF EXISTS sellers_delete_guard()`,
    `DROP FUNCTION IF EXISTS sellers_membership_handover()`,
    `DROP FUNCTION IF EXISTS sellers_membership_guard()`,
    `DROP FUNCTION IF EXISTS listed_cars_reroute_conversations()`,
    `DROP FUNCTION IF EXISTS ems_reassign_listing`,
    `DROP FUNCTION IF EXISTS ems_locked_listing_taker`,
    `DROP FUNCTION IF EXISTS ems_lock_listing_recipient`,
    `DROP FUNCTION IF EXISTS ems_handover_recipient`,
    `DROP FUNCTION IF EXISTS ems_assert_not_last_admin`,
    `DROP FUNCTION IF EXISTS ems_lock_companies`,
    `DROP FUNCTION IF EXISTS ems_lock_holder`,
    `DROP FUNCTION IF EXISTS ems_can_hold`,
    `DROP FUNCTION IF EXISTS ems_holder_rule`,
  ]);
  await setInListCheck(knex, 'conversation_ownership_log', 'conversation_ownership_log_reason_check', 'reason', conversationTracking.OWNERSHIP_LOG_REASONS);
  await setInListCheck(knex, 'company_member_audit', 'company_member_audit_action_check', 'action', AUDIT_ACTIONS.slice(0, 3));
}
