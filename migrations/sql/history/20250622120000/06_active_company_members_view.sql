CREATE OR REPLACE VIEW active_company_members AS
SELECT s.id AS seller_id, s.company_id, c.name AS company_name, s.name, s.email, s.role, s.created_at
  FROM sellers s JOIN companies c ON c.id = s.company_id
 WHERE s.member_status = 'active'
