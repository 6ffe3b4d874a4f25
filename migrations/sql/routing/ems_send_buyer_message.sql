-- A buyer writes about a listing (the guide's EnhancedMessageService): one conversation per buyer and
-- listing (opened, or reopened), the message stored for whom the routing names (the messages trigger
-- locks that recipient until commit). Refusals: validation_failed, not_found, listing_not_active,
-- no_recipient.
CREATE OR REPLACE FUNCTION ems_send_buyer_message(p_buyer_id ems_buyer_id, p_listing_id ems_listing_id, p_body text) RETURNS jsonb
  LANGUAGE plpgsql AS
$$
DECLARE
  body text := regexp_replace(p_body, '^\s+|\s+$', '', 'g');
  listing_status text;
  existing record;
  conversation ems_conversation_id;
  holder ems_seller_id;
  stored record;
BEGIN
  IF body = '' THEN
    PERFORM ems_refuse('validation_failed', 'message body must not be empty');
  ELSIF length(body) > 5000 THEN
    PERFORM ems_refuse('validation_failed', 'message body must be at most 5000 characters');
  END IF;
  PERFORM set_config('ems.actor', 'buyer:' || p_buyer_id, true);
  PERFORM 1 FROM buyers WHERE id = p_buyer_id;
  IF NOT FOUND THEN
    PERFORM ems_refuse('not_found', format('buyer %s was not found', p_buyer_id));
  END IF;
  SELECT status INTO listing_status FROM listed_cars WHERE id = p_listing_id;
  IF NOT FOUND THEN
    PERFORM ems_refuse('not_found', format('listing %s was not found', p_listing_id));
  ELSIF listing_status <> 'active' THEN
    PERFORM ems_refuse('listing_not_active', format('listing %s is %s and takes no new messages', p_listing_id, listing_status));
  END IF;
  -- One conversation per buyer and listing, even when two first messages race.
  PERFORM pg_advisory_xact_lock(hashtextextended(p_listing_id::text || ':' || p_buyer_id::text, 0));
  SELECT id, status INTO existing FROM conversations WHERE listing_id = p_listing_id AND buyer_id = p_buyer_id
   ORDER BY (status = 'open') DESC, created_at DESC LIMIT 1;
  conversation := existing.id;
  IF conversation IS NULL THEN
    INSERT INTO conversations (listing_id, buyer_id) VALUES (p_listing_id, p_buyer_id) RETURNING id, seller_id INTO conversation, holder;
    IF holder IS NULL THEN
      PERFORM ems_refuse('no_recipient', format('nobody can receive messages about listing %s right now', p_listing_id));
    END IF;
  END IF;
  INSERT INTO messages (conversation_id, sender_type, sender_id, body) VALUES (conversation, 'buyer', p_buyer_id, body)
  RETURNING id, recipient_id, created_at INTO stored;
  RETURN jsonb_build_object(
    'messageId', stored.id, 'conversationId', conversation, 'listingId', p_listing_id,
    'recipient', (SELECT jsonb_build_object('id', s.id, 'name', s.name) FROM sellers s WHERE s.id = stored.recipient_id),
    'conversationOpened', existing.id IS NULL, 'conversationReopened', coalesce(existing.status = 'closed', false),
    'createdAt', ems_iso_time(stored.created_at));
END
$$;
