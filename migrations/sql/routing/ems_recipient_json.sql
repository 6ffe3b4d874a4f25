-- get_listing_message_recipient as the API and the services show it; NULL for an unknown listing.
CREATE OR REPLACE FUNCTION ems_recipient_json(p_listing_id ems_listing_id) RETURNS jsonb
  LANGUAGE sql STABLE AS
$$
  SELECT jsonb_build_object('listingId', r.listing_id, 'recipientId', r.recipient_id, 'recipientName', r.recipient_name,
                            'recipientType', r.recipient_type, 'routingReason', r.routing_reason, 'companyId', r.company_id)
    FROM get_listing_message_recipient(p_listing_id) r
$$;
