-- What the verification (npm run verify, the scheduled verification Lambda) reads, granted to
-- ems_reader: the guide's checks (information_schema shows a relation or column only to a role with
-- a privilege on it), the routing function and invariant, the ownership history, the migration
-- status and checksums. No e-mail address, and nothing to write with.
GRANT SELECT ON knex_migrations, knex_migrations_checksums TO ems_reader;
GRANT SELECT ON listed_cars, conversations, companies TO ems_reader;
GRANT SELECT ON company_member_audit, conversation_ownership_log, company_message_handlers TO ems_reader;
GRANT SELECT (id, company_id, name, role, member_status, created_at) ON sellers TO ems_reader;
GRANT SELECT ON listing_message_routing TO ems_reader;
GRANT SELECT (seller_id, company_id, company_name, name, role, created_at) ON active_company_members TO ems_reader;
GRANT SELECT (handler_id, company_id, seller_id, seller_name, role, priority, created_at, open_conversations)
  ON active_company_message_handlers TO ems_reader;
