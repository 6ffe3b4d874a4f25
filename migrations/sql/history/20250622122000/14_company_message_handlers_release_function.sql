CREATE OR REPLACE FUNCTION company_message_handlers_release() RETURNS trigger
  LANGUAGE plpgsql AS
$$
BEGIN
  PERFORM ems_move_holdings_to_fallback(OLD.seller_id, OLD.company_id, 'handler_changed', 'handler');
  RETURN NULL;
END
$$
