-- The roles the deployed functions act through. Each has no login of its own: the users that log in
-- (one per function, with a secret each, rotated) are its members, made on deploy.
--   ems_route_caller: may call the API's route functions (api_*), which run with their owner's
--                     rights, and nothing else: no table, no other function that writes.
--   ems_reader:       may read what the verification reads, and nothing else.
--   ems_event_relay:  may read the events outbox, mark and prune it (migration 8 grants it that).
-- Roles belong to the whole PostgreSQL cluster: another database of the cluster (or a migration of
-- one running at the same time) may have made them already.
DO $$
DECLARE
  role_name text;
BEGIN
  FOREACH role_name IN ARRAY ARRAY['ems_route_caller', 'ems_reader', 'ems_event_relay'] LOOP
    BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
      END IF;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL; -- made at this moment by a migration of another database
    END;
  END LOOP;
END
$$;
