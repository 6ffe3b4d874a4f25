-- Every buyer message, whoever inserts it, is stored for exactly the recipient that
-- get_listing_message_recipient names at its commit: the listing's recipient is locked with the
-- listing (ems_lock_listing_recipient), then the conversation, which follows the recipient
-- (reopened with them when it was closed), logged.
CREATE OR REPLACE FUNCTION messages_route_buyer_message() RETURNS trigger
  LANGUAGE plpgsql AS
$$
DECLARE
  seen_listing ems_listing_id;
  current record;
  target ems_seller_id;
BEGIN
  SELECT c.listing_id INTO seen_listing FROM conversations c WHERE c.id = NEW.conversation_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'conversation % does not exist', NEW.conversation_id USING ERRCODE = 'P0002', DETAIL = 'ems:not_found';
  END IF;
  target := ems_lock_listing_recipient(seen_listing, true);
  IF target IS NULL THEN
    RAISE EXCEPTION 'nobody can receive messages about listing % right now', seen_listing
      USING ERRCODE = 'P0001', DETAIL = 'ems:no_recipient';
  END IF;
  SELECT c.seller_id, c.listing_id INTO current FROM conversations c WHERE c.id = NEW.conversation_id FOR UPDATE;
  IF current.listing_id IS DISTINCT FROM seen_listing THEN
    RAISE EXCEPTION 'conversation % moved to another listing meanwhile', NEW.conversation_id USING ERRCODE = '40001';
  END IF;
  IF current.seller_id IS DISTINCT FROM target THEN
    UPDATE conversations SET seller_id = target, status = 'open', last_message_at = NEW.created_at WHERE id = NEW.conversation_id;
    INSERT INTO conversation_ownership_log (conversation_id, listing_id, previous_owner_id, new_owner_id, reason, actor)
    SELECT NEW.conversation_id, seen_listing, current.seller_id, target,
           CASE WHEN ems_can_hold(current.seller_id, l.company_id, l.seller_id) THEN 'routed_to_recipient' ELSE 'owner_inactive' END,
           ems_current_actor()
      FROM listed_cars l WHERE l.id = seen_listing;
  ELSE
    UPDATE conversations SET status = 'open', last_message_at = NEW.created_at WHERE id = NEW.conversation_id;
  END IF;
  NEW.recipient_id := target;
  RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER messages_route_buyer_message
  BEFORE INSERT ON messages
  FOR EACH ROW WHEN (NEW.sender_type = 'buyer')
  EXECUTE FUNCTION messages_route_buyer_message();
