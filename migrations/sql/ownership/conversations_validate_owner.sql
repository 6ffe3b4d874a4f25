-- Plain SQL on a conversation (our own functions log their moves themselves): reopening it, handing
-- it to someone, or moving it to another listing never leaves it open with a holder who may not hold
-- its listing, and every change of holder is logged, so each conversation's history stays an
-- unbroken chain. No setting turns this off.
CREATE OR REPLACE FUNCTION conversations_validate_owner() RETURNS trigger
  LANGUAGE plpgsql AS
$$
DECLARE
  reason text := coalesce(nullif(current_setting('ems.transfer_reason', true), ''), 'manual_transfer');
  target ems_seller_id;
BEGIN
  IF NEW.status = 'open' THEN
    target := ems_lock_listing_recipient(NEW.listing_id, false, NEW.seller_id);
    IF target IS DISTINCT FROM NEW.seller_id THEN
      NEW.seller_id := target;
      reason := 'owner_inactive';
    END IF;
  END IF;
  IF NEW.seller_id IS DISTINCT FROM OLD.seller_id THEN
    INSERT INTO conversation_ownership_log (conversation_id, listing_id, previous_owner_id, new_owner_id, reason, actor)
    VALUES (NEW.id, NEW.listing_id, OLD.seller_id, NEW.seller_id, reason, ems_current_actor());
  END IF;
  RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER conversations_validate_owner
  BEFORE UPDATE OF status, seller_id, listing_id ON conversations
  FOR EACH ROW WHEN (pg_trigger_depth() = 0)
  EXECUTE FUNCTION conversations_validate_owner();
