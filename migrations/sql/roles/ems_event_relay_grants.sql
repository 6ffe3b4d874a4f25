-- ems_event_relay (made by migration 7 with the other roles of the deployed functions): the event
-- relay reads the outbox and marks what it published or failed to; it prunes published events
-- through ems_outbox_prune only. Nothing else, and no other table.
GRANT SELECT ON messaging_outbox TO ems_event_relay;
GRANT UPDATE (published_at, publish_attempts, last_error, dead_lettered_at) ON messaging_outbox TO ems_event_relay;
REVOKE ALL ON FUNCTION ems_outbox_prune(interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ems_outbox_prune(interval, integer) TO ems_event_relay;
