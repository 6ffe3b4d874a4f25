CREATE OR REPLACE FUNCTION get_listing_message_recipient(p_listing_id ems_listing_id)
  RETURNS TABLE (recipient_id ems_seller_id, recipient_name text, recipient_type text, routing_reason text,
                 company_id ems_company_id, listing_id ems_listing_id)
  LANGUAGE plpgsql STABLE AS
$$
DECLARE
  l record;
  fallback record;
BEGIN
  SELECT lc.id AS id, lc.status, coalesce(lc.company_id, o.company_id) AS company, lc.current_owner_id AS owner_id,
         lc.current_owner_type AS owner_type, o.name AS owner_name, o.member_status AS owner_status
    INTO l
    FROM listed_cars lc LEFT JOIN sellers o ON o.id = lc.current_owner_id
   WHERE lc.id = p_listing_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  listing_id := l.id;
  company_id := l.company;
  IF l.status <> 'active' THEN
    routing_reason := 'listing_not_active';
  ELSIF l.owner_status = 'active' THEN
    recipient_id := l.owner_id;
    recipient_name := l.owner_name;
    recipient_type := l.owner_type;
    routing_reason := 'owner_active';
  ELSE
    IF l.company IS NOT NULL THEN
      SELECT * INTO fallback FROM ems_fallback_recipient(l.company);
    END IF;
    IF fallback.recipient_id IS NOT NULL THEN
      recipient_id := fallback.recipient_id;
      recipient_name := fallback.recipient_name;
      recipient_type := fallback.recipient_type;
      routing_reason := 'owner_inactive_' || fallback.recipient_type;
    ELSE
      routing_reason := 'no_active_recipient';
    END IF;
  END IF;
  RETURN NEXT;
END
$$
