-- ems_event_relay: the role the event relay acts through (its login user, like the functions', is
-- made on deploy). It reads the outbox, marks what it published and prunes what is old: nothing
-- else, and no other table.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ems_event_relay') THEN
    CREATE ROLE ems_event_relay NOLOGIN;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL; -- made at this moment by a migration of another database of the cluster
END
$$;
GRANT SELECT, DELETE ON messaging_outbox TO ems_event_relay;
GRANT UPDATE (published_at) ON messaging_outbox TO ems_event_relay;
