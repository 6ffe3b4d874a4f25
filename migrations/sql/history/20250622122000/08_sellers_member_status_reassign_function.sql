CREATE OR REPLACE FUNCTION sellers_member_status_reassign() RETURNS trigger
  LANGUAGE plpgsql AS
$$
DECLARE
  result record;
  restored record;
BEGIN
  IF NEW.member_status <> 'active' THEN
    -- The company they leave (a removal may clear company_id in the same statement).
    SELECT * INTO result FROM ems_move_holdings_to_fallback(NEW.id, coalesce(OLD.company_id, NEW.company_id), 'member_removed', 'member');
    UPDATE company_member_audit
       SET listings_moved = result.listings_moved, conversations_moved = result.conversations_moved,
           moved_to_seller_id = result.moved_to
     WHERE id = (SELECT max(id) FROM company_member_audit
                  WHERE seller_id = NEW.id AND transaction_id = pg_current_xact_id());
  ELSIF coalesce(current_setting('ems.restore_listings', true), '') IN ('on', 'true') THEN
    SELECT * INTO restored FROM ems_restore_member_holdings(NEW.id);
    UPDATE company_member_audit
       SET listings_restored = restored.listings_restored, conversations_moved = restored.conversations_moved
     WHERE id = (SELECT max(id) FROM company_member_audit
                  WHERE seller_id = NEW.id AND transaction_id = pg_current_xact_id());
  END IF;
  RETURN NULL;
END
$$
