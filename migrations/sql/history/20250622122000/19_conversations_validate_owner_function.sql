CREATE OR REPLACE FUNCTION conversations_validate_owner() RETURNS trigger
  LANGUAGE plpgsql AS
$$
DECLARE
  reason text := coalesce(nullif(current_setting('ems.transfer_reason', true), ''), 'manual_transfer');
BEGIN
  IF NEW.status = 'open' THEN
    IF NEW.seller_id IS NOT NULL THEN
      PERFORM 1 FROM sellers WHERE id = NEW.seller_id AND member_status = 'active' FOR SHARE;
    END IF;
    IF NEW.seller_id IS NULL OR NOT FOUND THEN
      NEW.seller_id := ems_locked_listing_recipient(NEW.listing_id);
      reason := 'owner_inactive';
    END IF;
  END IF;
  IF NEW.seller_id IS DISTINCT FROM OLD.seller_id THEN
    INSERT INTO conversation_ownership_log (conversation_id, listing_id, previous_owner_id, new_owner_id, reason, actor)
    VALUES (NEW.id, NEW.listing_id, OLD.seller_id, NEW.seller_id, reason, ems_current_actor());
  END IF;
  RETURN NEW;
END
$$
