CREATE OR REPLACE FUNCTION update_conversation_ownership(
    p_conversation_id ems_conversation_id, p_new_owner_id ems_seller_id, p_reason text DEFAULT 'manual_transfer')
  RETURNS boolean
  LANGUAGE plpgsql AS
$$
DECLARE
  current_owner ems_seller_id;
  conversation_listing ems_listing_id;
BEGIN
  IF p_new_owner_id IS NOT NULL THEN
    PERFORM 1 FROM sellers WHERE id = p_new_owner_id AND member_status = 'active' FOR SHARE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'seller % is not an active member and cannot own conversations', p_new_owner_id
        USING ERRCODE = 'P0001', DETAIL = 'ems:inactive_recipient';
    END IF;
  END IF;
  SELECT seller_id, listing_id INTO current_owner, conversation_listing
    FROM conversations WHERE id = p_conversation_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'conversation % does not exist', p_conversation_id
      USING ERRCODE = 'P0002', DETAIL = 'ems:not_found';
  END IF;
  IF current_owner IS NOT DISTINCT FROM p_new_owner_id THEN
    RETURN false;
  END IF;
  PERFORM set_config('ems.transfer_reason', p_reason, true);
  UPDATE conversations SET seller_id = p_new_owner_id WHERE id = p_conversation_id;
  PERFORM set_config('ems.transfer_reason', '', true);
  -- Called from a statement, conversations_validate_owner has logged the change; from a trigger, log it here.
  IF pg_trigger_depth() > 0 THEN
    INSERT INTO conversation_ownership_log (conversation_id, listing_id, previous_owner_id, new_owner_id, reason, actor)
    VALUES (p_conversation_id, conversation_listing, current_owner, p_new_owner_id, p_reason, ems_current_actor());
  END IF;
  RETURN true;
END
$$
