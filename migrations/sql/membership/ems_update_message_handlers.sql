-- Adds, re-prioritises or deactivates a company's message handlers, all or nothing
-- (`p_changes`: [{ sellerId, priority?, active? }]). A handler must be an active member of the
-- company; one that stops handling hands what it holds as handler down the chain (trigger).
-- Returns the handlers afterwards. Refusals: not_found, invalid_handler.
CREATE OR REPLACE FUNCTION ems_update_message_handlers(p_company_id ems_company_id, p_actor text, p_changes jsonb) RETURNS jsonb
  LANGUAGE plpgsql AS
$$
DECLARE
  change jsonb;
  seller ems_seller_id;
BEGIN
  PERFORM set_config('ems.actor', p_actor, true), set_config('ems.reason', 'handler_changed', true);
  PERFORM 1 FROM companies WHERE id = p_company_id FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    PERFORM ems_refuse('not_found', format('company %s was not found', p_company_id));
  END IF;
  FOR change IN SELECT value FROM jsonb_array_elements(p_changes) LOOP
    seller := (change ->> 'sellerId')::ems_seller_id;
    IF change -> 'active' = 'false'::jsonb THEN
      UPDATE company_message_handlers SET is_active = false WHERE company_id = p_company_id AND seller_id = seller;
      IF NOT FOUND THEN
        PERFORM ems_refuse('not_found', format('message handler %s was not found', seller));
      END IF;
      CONTINUE;
    END IF;
    PERFORM 1 FROM sellers WHERE id = seller AND company_id = p_company_id AND member_status = 'active';
    IF NOT FOUND THEN
      PERFORM ems_refuse('invalid_handler', format('seller %s is not an active member of this company', seller));
    END IF;
    INSERT INTO company_message_handlers (company_id, seller_id, priority, is_active)
    VALUES (p_company_id, seller, coalesce((change ->> 'priority')::int, 100), true)
    ON CONFLICT (company_id, seller_id)
    DO UPDATE SET priority = coalesce((change ->> 'priority')::int, company_message_handlers.priority), is_active = true;
  END LOOP;
  RETURN ems_message_handlers(p_company_id);
END
$$;
