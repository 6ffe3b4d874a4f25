-- A DELETE of a member is leaving for routing: the last active owner or admin cannot be deleted, and
-- what an active member holds is handed over first, like a removal (no audit row: it would
-- reference the deleted row). Their message-handler rows go too. The marketplace's own foreign keys
-- (listings they listed, audit history) then decide whether the delete goes through.
CREATE OR REPLACE FUNCTION sellers_delete_guard() RETURNS trigger
  LANGUAGE plpgsql AS
$$
BEGIN
  PERFORM ems_lock_companies(OLD.company_id);
  IF OLD.member_status = 'active' THEN
    IF OLD.company_id IS NOT NULL AND OLD.role IN ('owner', 'admin') THEN
      PERFORM ems_assert_not_last_admin(OLD.id, OLD.company_id, OLD.role);
    END IF;
    PERFORM ems_move_holdings_to_fallback(OLD.id, OLD.company_id, 'member_removed', 'member');
  END IF;
  DELETE FROM company_message_handlers WHERE seller_id = OLD.id;
  RETURN OLD;
END
$$;

CREATE OR REPLACE TRIGGER sellers_delete_guard
  BEFORE DELETE ON sellers
  FOR EACH ROW EXECUTE FUNCTION sellers_delete_guard();
