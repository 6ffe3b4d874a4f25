CREATE OR REPLACE VIEW listing_message_routing AS
SELECT l.id AS listing_id, l.company_id, l.status AS listing_status, l.seller_id, l.original_seller_id,
       l.current_owner_id, l.current_owner_type, o.member_status AS current_owner_status,
       r.recipient_id, r.recipient_name, r.recipient_type, r.routing_reason
  FROM listed_cars l
  LEFT JOIN sellers o ON o.id = l.current_owner_id
  CROSS JOIN LATERAL get_listing_message_recipient(l.id) r
