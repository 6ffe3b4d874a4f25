/**
 * Everything the messaging migrations install, in one place: migration 4
 * validates what migrations 1-4 install, migration 5 what it changes, and the
 * verification (runner, `npm run verify`, scheduled Lambda) checks the live
 * database against the migrations it has applied.
 */
export const EXPECTED_TABLES = ['company_member_audit', 'conversation_ownership_log', 'company_message_handlers'] as const;

export const EXPECTED_COLUMNS: Record<string, readonly string[]> = {
  sellers: ['member_status', 'removed_at', 'removed_by', 'removal_reason', 'reactivated_at', 'reactivated_by'],
  listed_cars: ['current_owner_id', 'current_owner_type', 'original_seller_id'],
};

export const EXPECTED_FUNCTIONS = ['get_listing_message_recipient', 'update_conversation_ownership', 'get_member_statistics'] as const;

export const EXPECTED_VIEWS = ['listing_message_routing', 'active_company_message_handlers', 'active_company_members'] as const;

/** The triggers of migrations 1-4 (what migration 4 validates). */
export const EXPECTED_TRIGGERS: Record<string, readonly string[]> = {
  sellers: ['sellers_member_status_guard', 'sellers_member_status_audit', 'sellers_member_status_reassign', 'sellers_company_change_reassign'],
  listed_cars: ['listed_cars_track_ownership', 'listed_cars_validate_owner'],
  conversations: ['conversations_route_new', 'conversations_log_start', 'conversations_validate_owner'],
  messages: ['messages_route_buyer_message'],
  conversation_ownership_log: ['conversation_ownership_log_fill_company'],
  company_message_handlers: ['company_message_handlers_validate', 'company_message_handlers_release', 'company_message_handlers_release_on_delete'],
};

/** Migration 5 (company-scoped routing) replaces the membership triggers on sellers and adds two. */
export const COMPANY_SCOPED_ROUTING_TRIGGERS: Record<string, readonly string[]> = {
  ...EXPECTED_TRIGGERS,
  sellers: ['sellers_membership_guard', 'sellers_membership_handover', 'sellers_delete_guard'],
  listed_cars: [...EXPECTED_TRIGGERS.listed_cars!, 'listed_cars_reroute_conversations'],
  conversations: [...EXPECTED_TRIGGERS.conversations!, 'conversations_delete_history'],
};

/** Migration 6: one SQL function per API route. */
export const API_ROUTE_FUNCTIONS = [
  'api_get_listing_recipient',
  'api_get_conversation_ownership_history',
  'api_send_message',
  'api_get_company_stats',
  'api_remove_member',
  'api_reactivate_member',
  'api_list_message_handlers',
  'api_update_message_handlers',
  'api_health',
] as const;

/** Indexes migration 4 builds for the hot queries (routing, removal, history, stats). */
export const PERFORMANCE_INDEXES = {
  conversations_open_by_seller_idx: `ON conversations (seller_id) WHERE status = 'open'`,
  company_message_handlers_active_idx: `ON company_message_handlers (company_id, priority) WHERE is_active`,
  sellers_company_status_role_idx: `ON sellers (company_id, member_status, role, created_at)`,
  // Every API request finds its caller by e-mail, case-insensitively (not unique: existing data may hold case variants).
  sellers_lower_email_idx: `ON sellers (lower(email))`,
  buyers_lower_email_idx: `ON buyers (lower(email))`,
} as const;

export const EXPECTED_INDEXES = [
  'listed_cars_current_owner_active_idx',
  'listed_cars_original_seller_idx',
  'listed_cars_company_active_owner_type_idx',
  ...Object.keys(PERFORMANCE_INDEXES),
] as const;

/**
 * SQL returning one row per missing object: `{ kind, name }`. Empty when all is in place. From
 * pg_catalog, which shows every object to every role (information_schema shows a role only what it
 * has a privilege on: the verification's read-only role may not call the route functions).
 */
export const MISSING_OBJECTS_SQL = `
  SELECT 'table' AS kind, t AS name FROM unnest($1::text[]) t
   WHERE NOT EXISTS (SELECT 1 FROM pg_class x
                      WHERE x.relnamespace = current_schema()::regnamespace AND x.relname = t AND x.relkind IN ('r', 'p'))
  UNION ALL
  SELECT 'column', c FROM unnest($2::text[]) c
   WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_class x ON x.oid = a.attrelid
                      WHERE x.relnamespace = current_schema()::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
                        AND x.relname || '.' || a.attname = c)
  UNION ALL
  SELECT 'function', f FROM unnest($3::text[]) f
   WHERE NOT EXISTS (SELECT 1 FROM pg_proc x WHERE x.pronamespace = current_schema()::regnamespace AND x.prokind = 'f' AND x.proname = f)
  UNION ALL
  SELECT 'view', v FROM unnest($4::text[]) v
   WHERE NOT EXISTS (SELECT 1 FROM pg_class x WHERE x.relnamespace = current_schema()::regnamespace AND x.relname = v AND x.relkind = 'v')
  UNION ALL
  SELECT 'trigger', tg FROM unnest($5::text[]) tg
   WHERE NOT EXISTS (SELECT 1 FROM pg_trigger x WHERE NOT x.tgisinternal
                        AND x.tgrelid::regclass::text || '.' || x.tgname = tg)
  UNION ALL
  SELECT 'index', i FROM unnest($6::text[]) i
   WHERE NOT EXISTS (SELECT 1 FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
                      WHERE c.relname = i AND c.relnamespace = current_schema()::regnamespace AND x.indisvalid)`;

/** Migration 8: the events outbox and the triggers that write it. */
export const EVENTS_OUTBOX_TABLES = ['messaging_outbox'] as const;
export const EVENTS_OUTBOX_TRIGGERS: Record<string, readonly string[]> = {
  sellers: ['sellers_membership_events', 'sellers_membership_events_on_delete'],
  listed_cars: ['listed_cars_ownership_events'],
  conversations: ['conversations_ownership_events'],
};

/** Expect what migration 5 (`companyScopedRouting`), 6 (`apiRouteFunctions`) and 8 (`eventsOutbox`) install, once applied. */
export function missingObjectsParameters(options: { companyScopedRouting?: boolean; apiRouteFunctions?: boolean; eventsOutbox?: boolean } = {}): string[][] {
  const base = options.companyScopedRouting ? COMPANY_SCOPED_ROUTING_TRIGGERS : EXPECTED_TRIGGERS;
  const triggers = options.eventsOutbox
    ? Object.fromEntries([...new Set([...Object.keys(base), ...Object.keys(EVENTS_OUTBOX_TRIGGERS)])].map((t) => [t, [...(base[t] ?? []), ...(EVENTS_OUTBOX_TRIGGERS[t] ?? [])]]))
    : base;
  return [
    [...EXPECTED_TABLES, ...(options.eventsOutbox ? EVENTS_OUTBOX_TABLES : [])],
    Object.entries(EXPECTED_COLUMNS).flatMap(([table, columns]) => columns.map((c) => `${table}.${c}`)),
    [...EXPECTED_FUNCTIONS, ...(options.apiRouteFunctions ? API_ROUTE_FUNCTIONS : [])],
    [...EXPECTED_VIEWS],
    Object.entries(triggers).flatMap(([table, triggers]) => triggers.map((t) => `${table}.${t}`)),
    [...EXPECTED_INDEXES],
  ];
}
