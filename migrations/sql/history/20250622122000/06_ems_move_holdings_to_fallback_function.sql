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
  actor text := ems_current_actor();
BEGIN
  SELECT f.recipient_id, f.recipient_type INTO fallback_id, fallback_type FROM ems_locked_fallback(p_company_id, p_seller_id) f;

  WITH targets AS (
    SELECT id FROM listed_cars
     WHERE current_owner_id = p_seller_id AND status = 'active'
       AND (p_scope = 'member'
            OR (p_scope = 'handler' AND current_owner_type = 'company_handler')
            OR (p_scope = 'company' AND company_id = p_company_id))
     ORDER BY id FOR UPDATE
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

  -- This statement logs its moves itself; conversations_validate_owner must not log them again
  -- when it runs outside a trigger (migration 3 healing members removed before it existed).
  PERFORM set_config('ems.bulk_move', 'on', true);
  WITH moved AS (
    UPDATE conversations c SET seller_id = fallback_id
     WHERE c.seller_id = p_seller_id AND c.status = 'open'
       AND (p_scope = 'member' OR c.listing_id = ANY (moved_listings)
            OR (p_scope = 'company' AND EXISTS (SELECT 1 FROM listed_cars l2 WHERE l2.id = c.listing_id AND l2.company_id = p_company_id)))
    RETURNING c.id, c.listing_id
  )
  INSERT INTO conversation_ownership_log (conversation_id, listing_id, company_id, previous_owner_id, new_owner_id, reason, actor)
  SELECT moved.id, moved.listing_id, p_company_id, p_seller_id, fallback_id, p_reason, actor FROM moved;
  GET DIAGNOSTICS conversation_count = ROW_COUNT;
  PERFORM set_config('ems.bulk_move', 'off', true);

  RETURN QUERY SELECT cardinality(moved_listings), conversation_count, fallback_id;
END
$$
