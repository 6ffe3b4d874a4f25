/**
 * The recorded names of the migrations, in order. Kept apart from the migration
 * code so that the API's health check can compare them with knex_migrations
 * without bundling the migrations.
 */
export const COMPANY_SCOPED_ROUTING_MIGRATION = '20261130120000_company_scoped_routing.js';

export const API_ROUTE_FUNCTIONS_MIGRATION = '20261130130000_api_route_functions.js';

export const DATABASE_ROLES_MIGRATION = '20261130140000_database_roles.js';

export const EVENTS_OUTBOX_MIGRATION = '20261130150000_ownership_events_outbox.js';

export const ENTITY_ID_DOMAINS_MIGRATION = '20261206120000_entity_id_domains.js';

export const OUTBOX_ORDER_MIGRATION = '20261206130000_outbox_order_without_deadlocks.js';

export const MIGRATION_NAMES = [
  '20250101000000_base_marketplace_schema.js',
  '20250622120000_enhanced_member_management.js',
  '20250622121000_messaging_ownership_tracking.js',
  '20250622122000_messaging_conversation_tracking.js',
  '20250622123000_messaging_final_setup.js',
  COMPANY_SCOPED_ROUTING_MIGRATION,
  API_ROUTE_FUNCTIONS_MIGRATION,
  DATABASE_ROLES_MIGRATION,
  EVENTS_OUTBOX_MIGRATION,
  ENTITY_ID_DOMAINS_MIGRATION,
  OUTBOX_ORDER_MIGRATION,
] as const;
