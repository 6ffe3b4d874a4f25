-- Writes one event to the outbox, in the caller's transaction: it commits or rolls back with the
-- change it reports. `transaction_id` groups the events of one change (a removal reports the member
-- and the listings and conversations handed over); `id` orders them.
--
-- One company's events are numbered in the order their transactions commit: an id is taken when
-- the row is written but seen by the relay only at commit, so two transactions of one company that
-- wrote events at once could otherwise commit, and be published, out of id order. The first event a
-- transaction writes for a company takes that company's outbox lock until it ends; another
-- transaction's event for the company waits for it. (Events of no company are not ordered.)
-- The actor and the reason are capped: an event must fit in a PutEvents call (256 KB).
CREATE OR REPLACE FUNCTION ems_emit_event(p_company_id ems_company_id, p_event_type text, p_detail jsonb) RETURNS void
  LANGUAGE plpgsql AS
$$
BEGIN
  IF p_company_id IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(hashtextextended('ems.outbox:' || p_company_id::text, 0));
  END IF;
  INSERT INTO messaging_outbox (company_id, event_type, actor, reason, transaction_id, detail)
  VALUES (p_company_id, p_event_type, left(ems_current_actor(), 200),
          left(coalesce(nullif(current_setting('ems.transfer_reason', true), ''), nullif(current_setting('ems.reason', true), '')), 1000),
          pg_current_xact_id()::text::bigint, p_detail);
END
$$;
