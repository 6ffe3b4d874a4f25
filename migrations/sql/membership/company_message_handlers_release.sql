-- A handler that stops handling (deactivated or deleted) hands what it holds as handler down the
-- chain; what it owns as a seller stays. A membership change of the company: its row goes first.
CREATE OR REPLACE FUNCTION company_message_handlers_release() RETURNS trigger
  LANGUAGE plpgsql AS
$$
BEGIN
  PERFORM ems_lock_companies(OLD.company_id);
  PERFORM ems_move_holdings_to_fallback(OLD.seller_id, OLD.company_id, 'handler_changed', 'handler');
  RETURN NULL;
END
$$;

-- Only a handler that stops handling releases what it holds (a new priority changes future routing only).
CREATE OR REPLACE TRIGGER company_message_handlers_release
  AFTER UPDATE OF is_active ON company_message_handlers
  FOR EACH ROW WHEN (OLD.is_active AND NOT NEW.is_active)
  EXECUTE FUNCTION company_message_handlers_release();

CREATE OR REPLACE TRIGGER company_message_handlers_release_on_delete
  AFTER DELETE ON company_message_handlers
  FOR EACH ROW WHEN (OLD.is_active)
  EXECUTE FUNCTION company_message_handlers_release();
