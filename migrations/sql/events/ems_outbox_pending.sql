-- What the relay may publish now, in id order (at most p_limit events): the unpublished events of
-- every company whose outbox lock it can take exclusively at this moment, and the events of no
-- company. A transaction that writes an event for a company holds that lock in shared mode until it
-- ends (ems_emit_event.sql), so a company whose lock is free has no transaction running that could
-- still commit a lower id: its events read after taking the lock are complete, and every event it
-- gets later has a higher id. A company whose lock is busy is left for the next run; nothing waits.
-- VOLATILE, under READ COMMITTED: each statement below reads with a snapshot taken after the locks before it.
-- The locks end with the relay's statement, a few milliseconds later.
CREATE OR REPLACE FUNCTION ems_outbox_pending(p_limit integer)
  RETURNS TABLE (id text, company_id text, event_type text, occurred_at text, transaction_id text,
                 actor text, reason text, detail text, publish_attempts integer)
  LANGUAGE plpgsql VOLATILE AS
$$
DECLARE
  candidate record;
  settled text[] := '{}';
BEGIN
  -- Under REPEATABLE READ or SERIALIZABLE every statement would read the transaction's first
  -- snapshot, taken before the locks: a company's later event could be read without an earlier one.
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'ems_outbox_pending needs READ COMMITTED (the relay''s session is %)', current_setting('transaction_isolation');
  END IF;
  FOR candidate IN
    SELECT o.company_id::text AS company FROM messaging_outbox o
     WHERE o.published_at IS NULL AND o.dead_lettered_at IS NULL AND o.company_id IS NOT NULL
     GROUP BY o.company_id ORDER BY min(o.id) LIMIT p_limit
  LOOP
    IF pg_try_advisory_xact_lock(hashtextextended('ems.outbox:' || candidate.company, 0)) THEN
      settled := settled || candidate.company;
    END IF;
  END LOOP;
  RETURN QUERY
    SELECT o.id::text, o.company_id::text, o.event_type,
           to_char(o.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           o.transaction_id::text, o.actor, o.reason, o.detail::text, o.publish_attempts
      FROM messaging_outbox o
     WHERE o.published_at IS NULL AND o.dead_lettered_at IS NULL
       AND (o.company_id IS NULL OR o.company_id::text = ANY (settled))
     ORDER BY o.id
     LIMIT p_limit;
END
$$;

-- The relay's login role calls it; nobody else needs it.
REVOKE ALL ON FUNCTION ems_outbox_pending(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ems_outbox_pending(integer) TO ems_event_relay;
