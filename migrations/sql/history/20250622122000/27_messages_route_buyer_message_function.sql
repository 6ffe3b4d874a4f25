CREATE OR REPLACE FUNCTION messages_route_buyer_message() RETURNS trigger
  LANGUAGE plpgsql AS
$$
DECLARE
  seen record;
  now_owner ems_seller_id;
  target ems_seller_id;
BEGIN
  FOR attempt IN 1..10 LOOP
    -- Each attempt runs in a subtransaction: when it has to start over, rolling it back releases
    -- the locks it took (a recipient, the conversation), so a retry never holds a conversation
    -- while waiting for a seller (the lock order is seller, then conversation).
    BEGIN
      SELECT c.seller_id, c.listing_id INTO seen FROM conversations c WHERE c.id = NEW.conversation_id;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'conversation % does not exist', NEW.conversation_id USING ERRCODE = 'P0002', DETAIL = 'ems:not_found';
      END IF;
      target := seen.seller_id;
      IF target IS NULL OR NOT EXISTS (SELECT 1 FROM sellers WHERE id = target AND member_status = 'active') THEN
        target := (SELECT r.recipient_id FROM get_listing_message_recipient(seen.listing_id) r);
      END IF;
      IF target IS NULL THEN
        RAISE EXCEPTION 'nobody can receive messages about listing % right now', seen.listing_id
          USING ERRCODE = 'P0001', DETAIL = 'ems:no_recipient';
      END IF;
      PERFORM 1 FROM sellers WHERE id = target AND member_status = 'active' FOR SHARE;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'recipient changed' USING ERRCODE = 'EMS01';
      END IF;
      SELECT c.seller_id INTO now_owner FROM conversations c WHERE c.id = NEW.conversation_id FOR UPDATE;
      IF now_owner IS DISTINCT FROM seen.seller_id THEN
        -- Someone moved the conversation between our read and our lock: route again.
        RAISE EXCEPTION 'conversation moved' USING ERRCODE = 'EMS01';
      END IF;
      IF now_owner IS DISTINCT FROM target THEN
        UPDATE conversations SET seller_id = target WHERE id = NEW.conversation_id;
        INSERT INTO conversation_ownership_log (conversation_id, listing_id, previous_owner_id, new_owner_id, reason, actor)
        VALUES (NEW.conversation_id, seen.listing_id, now_owner, target, 'owner_inactive', ems_current_actor());
      END IF;
      UPDATE conversations SET status = 'open', last_message_at = NEW.created_at WHERE id = NEW.conversation_id;
      NEW.recipient_id := target;
      RETURN NEW;
    EXCEPTION WHEN SQLSTATE 'EMS01' THEN
      NULL; -- start over
    END;
  END LOOP;
  RAISE EXCEPTION 'could not route the message for conversation %: ownership kept changing', NEW.conversation_id
    USING ERRCODE = '40001';
END
$$
