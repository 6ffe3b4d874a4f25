CREATE OR REPLACE FUNCTION ems_fallback_recipient(p_company_id ems_company_id, p_exclude_seller_id ems_seller_id DEFAULT NULL)
  RETURNS TABLE (recipient_id ems_seller_id, recipient_name text, recipient_type text)
  LANGUAGE sql STABLE AS
$$
  (SELECT s.id, s.name, 'company_handler'
     FROM company_message_handlers h JOIN sellers s ON s.id = h.seller_id
    WHERE h.company_id = p_company_id AND h.is_active AND s.member_status = 'active'
      AND s.company_id = p_company_id AND s.id IS DISTINCT FROM p_exclude_seller_id
    ORDER BY h.priority,
             (SELECT count(*) FROM conversations c WHERE c.seller_id = s.id AND c.status = 'open'),
             h.created_at, h.id
    LIMIT 1)
  UNION ALL
  (SELECT s.id, s.name, 'company_admin' FROM sellers s
    WHERE s.company_id = p_company_id AND s.role = 'admin' AND s.member_status = 'active'
      AND s.id IS DISTINCT FROM p_exclude_seller_id
    ORDER BY s.created_at, s.id LIMIT 1)
  UNION ALL
  (SELECT s.id, s.name, 'company_owner' FROM sellers s
    WHERE s.company_id = p_company_id AND s.role = 'owner' AND s.member_status = 'active'
      AND s.id IS DISTINCT FROM p_exclude_seller_id
    ORDER BY s.created_at, s.id LIMIT 1)
  LIMIT 1
$$
