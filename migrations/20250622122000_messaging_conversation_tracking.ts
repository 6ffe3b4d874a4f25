/**
 * 3. Conversation ownership tracking and company message handlers, and the
 * routing that keeps buyer messages away from members who are not active.
 *
 * The rules live in the database, so they hold on every path: the API, the
 * domain services, and the marketplace's existing code writing plain SQL.
 *  - `get_listing_message_recipient(listing)`: who receives a listing's messages now
 *    (its owner if active, else the company fallback chain of ARCHITECTURE.md §3).
 *  - A member whose status leaves 'active' (any UPDATE of sellers.member_status)
 *    has their active listings and open conversations moved to the fallback
 *    recipient in the same transaction, logged and audited.
 *  - A member reactivated with `ems.restore_listings = on` gets back the listings
 *    they listed that the fallback still holds, with those open conversations.
 *  - A deactivated or deleted handler hands what it held as handler down the chain.
 *  - A buyer message locks its recipient (FOR SHARE) until commit, so a removal
 *    either waits for it and then moves its conversation, or runs first and the
 *    message is routed after it: a message is never stored for an inactive member.
 * Lock order everywhere: seller rows, then listings, then conversations.
 */
import type { Knex } from 'knex';
import { ddl } from './lib/safe-ddl';
import { readSqlFile } from './lib/sql-files';

export const config = { transaction: false };

export const OWNERSHIP_LOG_REASONS = [
  'conversation_started',
  'member_removed',
  'member_reactivated',
  'handler_changed',
  'manual_transfer',
  'owner_inactive',
] as const;

const TABLES = [
  `CREATE TABLE IF NOT EXISTS conversation_ownership_log (
     id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     conversation_id ems_conversation_id NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
     listing_id ems_listing_id NOT NULL,
     -- The listing's company, copied so company statistics need not join listed_cars.
     company_id ems_company_id,
     -- Plain ids, no foreign keys: an append-only history that outlives the rows it names,
     -- and 20,000 fewer key checks when a busy member is removed.
     previous_owner_id ems_seller_id,
     new_owner_id ems_seller_id,
     reason text NOT NULL CONSTRAINT conversation_ownership_log_reason_check
       CHECK (reason IN (${OWNERSHIP_LOG_REASONS.map((r) => `'${r}'`).join(', ')})),
     actor text NOT NULL,
     changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
   )`,
  `CREATE INDEX IF NOT EXISTS conversation_ownership_log_conversation_idx ON conversation_ownership_log (conversation_id, id)`,
  `CREATE INDEX IF NOT EXISTS conversation_ownership_log_changed_at_idx ON conversation_ownership_log (changed_at)`,
  `CREATE INDEX IF NOT EXISTS conversation_ownership_log_company_moves_idx
     ON conversation_ownership_log (company_id, changed_at) WHERE reason <> 'conversation_started'`,
  `CREATE TABLE IF NOT EXISTS company_message_handlers (
     id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
     company_id ems_company_id NOT NULL REFERENCES companies (id),
     seller_id ems_seller_id NOT NULL REFERENCES sellers (id),
     -- squawk-ignore prefer-bigint-over-int -- a rank the CHECK keeps between 1 and 1000
     priority integer NOT NULL DEFAULT 100 CONSTRAINT company_message_handlers_priority_check CHECK (priority BETWEEN 1 AND 1000),
     is_active boolean NOT NULL DEFAULT true,
     created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
     updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
     CONSTRAINT company_message_handlers_company_seller_key UNIQUE (company_id, seller_id)
   )`,
  `CREATE INDEX IF NOT EXISTS company_message_handlers_seller_idx ON company_message_handlers (seller_id)`,
];

const ROUTING = [
  // The fallback chain for a company: active handlers by priority (ties: fewest
  // open conversations, then oldest), then the oldest active admin, then the active owner.
  'history/20250622122000/01_ems_fallback_recipient_function.sql',
  // Hot path: assigning the output columns and RETURN NEXT is measurably cheaper than RETURN QUERY.
  'history/20250622122000/02_get_listing_message_recipient_function.sql',
  // The fallback chain's recipient, locked FOR SHARE as an active member until commit (chosen again
  // when the first choice stopped being active meanwhile). NULLs when nobody can take over.
  'history/20250622122000/03_ems_locked_fallback_function.sql',
  // The same for a listing's recipient (get_listing_message_recipient): NULL when nobody can receive.
  'history/20250622122000/04_ems_locked_listing_recipient_function.sql',
  // Moves one conversation to another owner (NULL: nobody), logged. Locks the new
  // owner first (FOR SHARE, it must be active) and then the conversation: the global lock order.
  'history/20250622122000/05_update_conversation_ownership_function.sql',
  // Hands what `p_seller_id` holds to the company fallback. Scope 'member': all
  // their active listings and open conversations (they are no longer active).
  // Scope 'handler': only the listings they hold as a handler, with those
  // listings' open conversations (they stopped being a handler). Scope 'company':
  // what they hold of company p_company_id's listings (they moved to another company).
  'history/20250622122000/06_ems_move_holdings_to_fallback_function.sql',
  // Gives a reactivated member back what they listed and the fallback still holds
  // (never what another person took over since), with those listings' open
  // conversations that are still with the fallback holder.
  'history/20250622122000/07_ems_restore_member_holdings_function.sql',
];

const TRIGGERS = [
  'history/20250622122000/08_sellers_member_status_reassign_function.sql',
  'history/20250622122000/09_sellers_member_status_reassign_trigger.sql',

  // An active member moved to another company leaves the old one's listings and conversations behind:
  // they go to the old company's fallback, never along to the new company.
  'history/20250622122000/10_sellers_company_change_reassign_function.sql',
  'history/20250622122000/11_sellers_company_change_reassign_trigger.sql',

  'history/20250622122000/12_company_message_handlers_validate_function.sql',
  'history/20250622122000/13_company_message_handlers_validate_trigger.sql',
  'history/20250622122000/14_company_message_handlers_release_function.sql',
  // Only a handler that stops handling releases what it holds (a new priority changes future routing only).
  'history/20250622122000/15_company_message_handlers_release_trigger.sql',
  'history/20250622122000/16_company_message_handlers_release_on_delete_trigger.sql',

  // Any other write that would leave an active listing with an owner who cannot receive messages
  // (a new listing of a removed seller, a draft of a removed seller put live, a parked listing put
  // live, a hand-over to a removed seller) gets the company fallback instead; with nobody to take
  // it, the write is refused. Named to fire after listed_cars_track_ownership (alphabetical order).
  'history/20250622122000/17_listed_cars_validate_owner_function.sql',
  'history/20250622122000/18_listed_cars_validate_owner_trigger.sql',

  // Plain SQL on a conversation (our own triggers log their moves themselves): reopening it, or
  // handing it to someone, never leaves it open with an inactive owner, and every change of owner
  // is logged, so each conversation's history stays an unbroken chain.
  'history/20250622122000/19_conversations_validate_owner_function.sql',
  'history/20250622122000/20_conversations_validate_owner_trigger.sql',

  'history/20250622122000/21_conversation_ownership_log_fill_company_function.sql',
  'history/20250622122000/22_conversation_ownership_log_fill_company_trigger.sql',

  // A conversation opened by any code path goes to an active recipient, and starts its history.
  'history/20250622122000/23_conversations_route_new_function.sql',
  'history/20250622122000/24_conversations_route_new_trigger.sql',
  'history/20250622122000/25_conversations_log_start_function.sql',
  'history/20250622122000/26_conversations_log_start_trigger.sql',

  // Every buyer message, whoever inserts it, is addressed to an active member
  // who stays active until the message commits.
  'history/20250622122000/27_messages_route_buyer_message_function.sql',
  'history/20250622122000/28_messages_route_buyer_message_trigger.sql',
];

const VIEWS = [
  'history/20250622122000/29_active_company_message_handlers_view.sql',
  'history/20250622122000/30_listing_message_routing_view.sql',
];

// Each company gets one default handler: its oldest active admin, else its owner.
const DEFAULT_HANDLERS = `
  INSERT INTO company_message_handlers (company_id, seller_id, priority)
  SELECT DISTINCT ON (s.company_id) s.company_id, s.id, 100
    FROM sellers s
   WHERE s.company_id IS NOT NULL AND s.member_status = 'active' AND s.role IN ('admin', 'owner')
   ORDER BY s.company_id, (s.role = 'admin') DESC, s.created_at, s.id
  ON CONFLICT (company_id, seller_id) DO NOTHING`;

export async function up(knex: Knex): Promise<void> {
  await ddl(knex, TABLES);
  await ddl(knex, ROUTING.map((file) => readSqlFile(file)));
  await ddl(knex, TRIGGERS.map((file) => readSqlFile(file)));
  await ddl(knex, VIEWS.map((file) => readSqlFile(file)));
  await knex.raw(DEFAULT_HANDLERS);
  // Members already inactive before these triggers existed (migration 1 applied alone, or re-run
  // later) still hold listings and conversations: hand them over now, one member per transaction.
  const holders = await knex.raw(`
    SELECT s.id, s.company_id FROM sellers s
     WHERE s.member_status <> 'active'
       AND (EXISTS (SELECT 1 FROM listed_cars l WHERE l.current_owner_id = s.id AND l.status = 'active')
            OR EXISTS (SELECT 1 FROM conversations c WHERE c.seller_id = s.id AND c.status = 'open'))`);
  for (const holder of holders.rows as { id: string; company_id: string | null }[]) {
    await knex.raw(`SELECT ems_move_holdings_to_fallback(?, ?, 'member_removed', 'member')`, [holder.id, holder.company_id]);
  }
}

export async function down(knex: Knex): Promise<void> {
  await ddl(knex, [
    `DROP VIEW IF EXISTS listing_message_routing`,
    `DROP VIEW IF EXISTS active_company_message_handlers`,
    `DROP TRIGGER IF EXISTS messages_route_buyer_message ON messages`,
    `DROP FUNCTION IF EXISTS messages_route_buyer_message()`,
    `DROP TRIGGER IF EXISTS conversation_ownership_log_fill_company ON conversation_ownership_log`,
    `DROP FUNCTION IF EXISTS conversation_ownership_log_fill_company()`,
    `DROP TRIGGER IF EXISTS conversations_validate_owner ON conversations`,
    `DROP FUNCTION IF EXISTS conversations_validate_owner()`,
    `DROP TRIGGER IF EXISTS listed_cars_validate_owner ON listed_cars`,
    `DROP FUNCTION IF EXISTS listed_cars_validate_owner()`,
    `DROP TRIGGER IF EXISTS conversations_log_start ON conversations`,
    `DROP FUNCTION IF EXISTS conversations_log_start()`,
    `DROP TRIGGER IF EXISTS conversations_route_new ON conversations`,
    `DROP FUNCTION IF EXISTS conversations_route_new()`,
    `DROP TRIGGER IF EXISTS company_message_handlers_release_on_delete ON company_message_handlers`,
    `DROP TRIGGER IF EXISTS company_message_handlers_release ON company_message_handlers`,
    `DROP FUNCTION IF EXISTS company_message_handlers_release()`,
    `DROP TRIGGER IF EXISTS company_message_handlers_validate ON company_message_handlers`,
    `DROP FUNCTION IF EXISTS company_message_handlers_validate()`,
    `DROP TRIGGER IF EXISTS sellers_company_change_reassign ON sellers`,
    `DROP FUNCTION IF EXISTS sellers_company_change_reassign()`,
    `DROP TRIGGER IF EXISTS sellers_member_status_reassign ON sellers`,
    `DROP FUNCTION IF EXISTS sellers_member_status_reassign()`,
    `DROP FUNCTION IF EXISTS ems_restore_member_holdings`,
    `DROP FUNCTION IF EXISTS ems_move_holdings_to_fallback`,
    `DROP FUNCTION IF EXISTS update_conversation_ownership`,
    `DROP FUNCTION IF EXISTS ems_locked_listing_recipient`,
    `DROP FUNCTION IF EXISTS ems_locked_fallback`,
    `DROP FUNCTION IF EXISTS get_listing_message_recipient`,
    `DROP FUNCTION IF EXISTS ems_fallback_recipient`,
    `-- squawk-ignore ban-drop-table -- down drops only the table its up created (roll back the code using it first)
     DROP TABLE IF EXISTS company_message_handlers`,
    `-- squawk-ignore ban-drop-table -- down drops only the table its up created (roll back the code using it first)
     DROP TABLE IF EXISTS conversation_ownership_log`,
  ]);
}
