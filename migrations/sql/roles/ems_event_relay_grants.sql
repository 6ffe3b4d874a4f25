-- ems_event_relay (made by migration 7 with the other roles of the deployed functions): the event
-- relay reads the outbox, marks what it published or failed to, and prunes what is old: nothing
-- else, and no other table.
GRANT SELECT, DELETE ON messaging_outbox TO ems_event_relay;
GRANT UPDATE (published_at, publish_attempts, last_error, dead_lettered_at) ON messaging_outbox TO ems_event_relay;
