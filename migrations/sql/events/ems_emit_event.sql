-- Writes one event to the outbox, in the caller's transaction: it commits or rolls back with the
-- change it reports. `transaction_id` groups the events of one change (a removal reports the member
-- and the listings and conversations handed over); `id` orders them.
CREATE OR REPLACE FUNCTION ems_emit_event(p_company_id uuid, p_event_type text, p_detail jsonb) RETURNS void
  LANGUAGE sql AS
$$
  INSERT INTO messaging_outbox (company_id, event_type, actor, reason, transaction_id, detail)
  VALUES (p_company_id, p_event_type, ems_current_actor(),
          coalesce(nullif(current_setting('ems.transfer_reason', true), ''), nullif(current_setting('ems.reason', true), '')),
          pg_current_xact_id()::text::bigint, p_detail);
$$;
