-- A company's message handlers with priority, whether they handle now, and their open-conversation load.
CREATE OR REPLACE FUNCTION ems_message_handlers(p_company_id ems_company_id) RETURNS jsonb
  LANGUAGE sql STABLE AS
$$
  SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'sellerId', h.seller_id, 'name', s.name, 'priority', h.priority,
                    'isActive', h.is_active AND s.member_status = 'active',
                    'openConversations', (SELECT count(*) FROM conversations c WHERE c.seller_id = h.seller_id AND c.status = 'open'))
                  ORDER BY h.is_active DESC, h.priority, h.created_at), '[]'::jsonb)
    FROM company_message_handlers h JOIN sellers s ON s.id = h.seller_id
   WHERE h.company_id = p_company_id
$$;
