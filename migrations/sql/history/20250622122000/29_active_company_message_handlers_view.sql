CREATE OR REPLACE VIEW active_company_message_handlers AS
SELECT h.id AS handler_id, h.company_id, h.seller_id, s.name AS seller_name, s.email AS seller_email, s.role,
       h.priority, h.created_at,
       (SELECT count(*) FROM conversations c WHERE c.seller_id = h.seller_id AND c.status = 'open') AS open_conversations
  FROM company_message_handlers h JOIN sellers s ON s.id = h.seller_id
 WHERE h.is_active AND s.member_status = 'active' AND s.company_id = h.company_id
