CREATE OR REPLACE FUNCTION ems_restore_member_holdings(p_seller_id ems_seller_id)
  RETURNS TABLE (listings_restored integer, conversations_moved integer)
  LANGUAGE plpgsql AS
$$
DECLARE
  listing_count integer := 0;
  conversation_count integer := 0;
BEGIN
  WITH candidates AS (
    SELECT id, current_owner_id AS held_by FROM listed_cars
     WHERE original_seller_id = p_seller_id AND seller_id = p_seller_id AND current_owner_type <> 'seller'
       AND status IN ('active', 'pending_reassignment')
     ORDER BY id FOR UPDATE
  ), restored AS (
    UPDATE listed_cars l
       SET current_owner_id = p_seller_id, current_owner_type = 'seller',
           status = CASE WHEN l.status = 'pending_reassignment' THEN 'active' ELSE l.status END
      FROM candidates WHERE l.id = candidates.id
    RETURNING l.id, l.company_id, candidates.held_by
  ), moved AS (
    UPDATE conversations c SET seller_id = p_seller_id
      FROM restored r
     WHERE c.listing_id = r.id AND c.status = 'open' AND c.seller_id IS NOT DISTINCT FROM r.held_by
    RETURNING c.id, c.listing_id, r.company_id, r.held_by
  ), logged AS (
    INSERT INTO conversation_ownership_log (conversation_id, listing_id, company_id, previous_owner_id, new_owner_id, reason, actor)
    SELECT moved.id, moved.listing_id, moved.company_id, moved.held_by, p_seller_id, 'member_reactivated', ems_current_actor() FROM moved
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM restored), (SELECT count(*) FROM logged) INTO listing_count, conversation_count;
  RETURN QUERY SELECT listing_count, conversation_count;
END
$$
