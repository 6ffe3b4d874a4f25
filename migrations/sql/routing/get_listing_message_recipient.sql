-- Who receives a buyer's message about a listing now: its holder when the holder may hold it
-- (ems_holder_rule), else the company's fallback chain; nobody for an inactive listing, or when
-- nobody in the company can. No row for an unknown listing.
-- Hot path: assigning the output columns and RETURN NEXT is measurably cheaper than RETURN QUERY.
CREATE OR REPLACE FUNCTION get_listing_message_recipient(p_listing_id ems_listing_id)
  RETURNS TABLE (recipient_id ems_seller_id, recipient_name text, recipient_type text, routing_reason text,
                 company_id ems_company_id, listing_id ems_listing_id)
  LANGUAGE plpgsql STABLE AS
$$
DECLARE
  l record;
  fallback_id ems_seller_id;
  fallback_name text;
  fallback_type text;
BEGIN
  SELECT lc.id AS id, lc.status, lc.company_id AS company, lc.current_owner_id AS owner_id,
         lc.current_owner_type AS owner_type, o.name AS owner_name,
         ems_holder_rule(o.id, o.member_status, o.company_id, lc.company_id, lc.seller_id) AS owner_holds
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
  ELSIF l.owner_holds THEN
    recipient_id := l.owner_id;
    recipient_name := l.owner_name;
    recipient_type := l.owner_type;
    routing_reason := 'owner_active';
  ELSE
    IF l.company IS NOT NULL THEN
      SELECT f.recipient_id, f.recipient_name, f.recipient_type INTO fallback_id, fallback_name, fallback_type
        FROM ems_fallback_recipient(l.company) f;
    END IF;
    IF fallback_id IS NOT NULL THEN
      recipient_id := fallback_id;
      recipient_name := fallback_name;
      recipient_type := fallback_type;
      routing_reason := 'owner_inactive_' || fallback_type;
    ELSE
      routing_reason := 'no_active_recipient';
    END IF;
  END IF;
  RETURN NEXT;
END
$$;
