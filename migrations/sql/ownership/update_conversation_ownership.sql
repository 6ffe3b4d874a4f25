-- Moves one conversation to another holder (NULL: nobody), logged. The new holder must be allowed
-- to hold the conversation's listing (an active member of its company; for an independent listing,
-- its seller), and is locked before the conversation: the global lock order.
CREATE OR REPLACE FUNCTION update_conversation_ownership(
    p_conversation_id ems_conversation_id, p_new_owner_id ems_seller_id, p_reason text DEFAULT 'manual_transfer')
  RETURNS boolean
  LANGUAGE plpgsql AS
$$
DECLARE
  seen_listing ems_listing_id;
  current record;
BEGIN
  SELECT listing_id INTO seen_listing FROM conversations WHERE id = p_conversation_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'conversation % does not exist', p_conversation_id
      USING ERRCODE = 'P0002', DETAIL = 'ems:not_found';
  END IF;
  IF p_new_owner_id IS NOT NULL
     AND ems_lock_listing_recipient(seen_listing, false, p_new_owner_id) IS DISTINCT FROM p_new_owner_id THEN
    RAISE EXCEPTION 'seller % cannot receive messages about listing %: not an active member of its company', p_new_owner_id, seen_listing
      USING ERRCODE = 'P0001', DETAIL = 'ems:inactive_recipient';
  END IF;
  SELECT seller_id, listing_id INTO current FROM conversations WHERE id = p_conversation_id FOR UPDATE;
  IF current.listing_id IS DISTINCT FROM seen_listing THEN
    RAISE EXCEPTION 'conversation % moved to another listing meanwhile', p_conversation_id USING ERRCODE = '40001';
  END IF;
  IF current.seller_id IS NOT DISTINCT FROM p_new_owner_id THEN
    RETURN false;
  END IF;
  PERFORM set_config('ems.transfer_reason', p_reason, true);
  UPDATE conversations SET seller_id = p_new_owner_id WHERE id = p_conversation_id;
  PERFORM set_config('ems.transfer_reason', '', true);
  -- Called from a statement, conversations_validate_owner has logged the change; from a trigger, log it here.
  IF pg_trigger_depth() > 0 THEN
    INSERT INTO conversation_ownership_log (conversation_id, listing_id, previous_owner_id, new_owner_id, reason, actor)
    VALUES (p_conversation_id, seen_listing, current.seller_id, p_new_owner_id, p_reason, ems_current_actor());
  END IF;
  RETURN true;
END
$$;
