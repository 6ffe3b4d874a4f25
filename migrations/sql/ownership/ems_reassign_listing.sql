-- One listing whose holder may no longer hold it, handed to whoever may: for a company listing the
-- company fallback, for an independent listing its own seller. Nobody: an active listing is parked
-- ('pending_reassignment'). Its open conversations held by someone who may not hold them follow.
-- The slow, general path (rare rows: independent listings of a removed seller, data written
-- before these rules); the bulk removal path is ems_move_holdings_to_fallback.
CREATE OR REPLACE FUNCTION ems_reassign_listing(p_listing_id ems_listing_id, p_reason text)
  RETURNS ems_seller_id
  LANGUAGE plpgsql AS
$$
DECLARE
  l record;
  target ems_seller_id;
  target_type text;
BEGIN
  SELECT id, company_id, seller_id INTO l FROM listed_cars WHERE id = p_listing_id;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  SELECT t.recipient_id, t.recipient_type INTO target, target_type FROM ems_locked_listing_taker(l.company_id, l.seller_id) t;
  UPDATE listed_cars
     SET current_owner_id = target, current_owner_type = coalesce(target_type, 'unassigned'),
         status = CASE WHEN target IS NULL AND status = 'active' THEN 'pending_reassignment' ELSE status END
   WHERE id = p_listing_id
     AND (current_owner_id IS DISTINCT FROM target OR (target IS NULL AND status = 'active'));
  PERFORM update_conversation_ownership(c.id, target, p_reason)
     FROM conversations c LEFT JOIN sellers s ON s.id = c.seller_id
    WHERE c.listing_id = p_listing_id AND c.status = 'open'
      AND c.seller_id IS DISTINCT FROM target
      AND NOT coalesce(ems_holder_rule(s.id, s.member_status, s.company_id, l.company_id, l.seller_id), false);
  RETURN target;
END
$$;
