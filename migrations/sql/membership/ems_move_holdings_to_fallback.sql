-- Hands what seller `p_seller_id` holds of company `p_company_id` to the company fallback (or parks
-- it when nobody can take it), logged. Runs under the company row lock (see ems_handover_recipient).
-- Scope 'member': they may hold nothing any more (removed, suspended, deleted): all their active
--   listings and open conversations, those of other companies or independent ones included.
-- Scope 'company': they left the company but stay active: what they hold of its listings.
-- Scope 'handler': they stopped handling its messages: the listings they hold as handler.
-- Returns the counts and who took over.
CREATE OR REPLACE FUNCTION ems_move_holdings_to_fallback(
    p_seller_id ems_seller_id, p_company_id ems_company_id, p_reason text, p_scope text)
  RETURNS TABLE (listings_moved integer, conversations_moved integer, moved_to ems_seller_id)
  LANGUAGE plpgsql AS
$$
DECLARE
  fallback_id ems_seller_id;
  fallback_type text;
  moved_listings ems_listing_id[];
  conversation_count integer := 0;
  leftover_count integer := 0;
  leftover record;
  leftover_conversations integer;
  actor text := ems_current_actor();
BEGIN
  SELECT f.recipient_id, f.recipient_type INTO fallback_id, fallback_type
    FROM ems_handover_recipient(p_company_id, p_seller_id) f;

  -- The bulk path: the company's listings, one statement each for listings and conversations.
  WITH targets AS (
    SELECT id FROM listed_cars
     WHERE current_owner_id = p_seller_id AND status = 'active' AND company_id = p_company_id
       AND (p_scope <> 'handler' OR current_owner_type = 'company_handler')
     ORDER BY id FOR NO KEY UPDATE
  ), moved AS (
    -- = ANY(ARRAY(...)) keeps this to primary-key lookups (a join plans a scan of the whole table).
    UPDATE listed_cars l
       SET current_owner_id = fallback_id,
           current_owner_type = coalesce(fallback_type, 'unassigned'),
           status = CASE WHEN fallback_id IS NULL THEN 'pending_reassignment' ELSE l.status END
     WHERE l.id = ANY (ARRAY(SELECT id FROM targets))
    RETURNING l.id
  )
  SELECT coalesce(array_agg(id), '{}') INTO moved_listings FROM moved;

  WITH moved AS (
    UPDATE conversations c SET seller_id = fallback_id
     WHERE c.seller_id = p_seller_id AND c.status = 'open'
       AND (c.listing_id = ANY (moved_listings)
            OR (p_scope <> 'handler'
                AND EXISTS (SELECT 1 FROM listed_cars l2 WHERE l2.id = c.listing_id AND l2.company_id = p_company_id)))
    RETURNING c.id, c.listing_id
  )
  INSERT INTO conversation_ownership_log (conversation_id, listing_id, company_id, previous_owner_id, new_owner_id, reason, actor)
  SELECT moved.id, moved.listing_id, p_company_id, p_seller_id, fallback_id, p_reason, actor FROM moved;
  GET DIAGNOSTICS conversation_count = ROW_COUNT;

  -- Anything else a member who may hold nothing still holds (independent listings, rows written
  -- before these rules): one at a time, each to whoever may hold it.
  IF p_scope = 'member' THEN
    leftover_conversations := (SELECT count(*) FROM conversations WHERE seller_id = p_seller_id AND status = 'open');
    FOR leftover IN
      SELECT id FROM listed_cars
       WHERE current_owner_id = p_seller_id AND status = 'active' AND (p_company_id IS NULL OR company_id IS DISTINCT FROM p_company_id)
       ORDER BY id
    LOOP
      PERFORM ems_reassign_listing(leftover.id, p_reason);
      leftover_count := leftover_count + 1;
    END LOOP;
    FOR leftover IN
      SELECT id, listing_id FROM conversations WHERE seller_id = p_seller_id AND status = 'open' ORDER BY id
    LOOP
      PERFORM update_conversation_ownership(leftover.id, ems_lock_listing_recipient(leftover.listing_id, false), p_reason);
    END LOOP;
    -- Moved with their listing or on their own: what they no longer hold.
    conversation_count := conversation_count + leftover_conversations
                          - (SELECT count(*) FROM conversations WHERE seller_id = p_seller_id AND status = 'open');
  END IF;

  RETURN QUERY SELECT cardinality(moved_listings) + leftover_count, conversation_count, fallback_id;
END
$$;
