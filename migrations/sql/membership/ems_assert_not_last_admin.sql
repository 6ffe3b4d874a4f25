-- A company keeps at least one active owner or admin: refuses to let `p_seller_id` stop being one
-- when nobody else is. Call with the company row locked (ems_lock_companies).
CREATE OR REPLACE FUNCTION ems_assert_not_last_admin(p_seller_id ems_seller_id, p_company_id ems_company_id, p_role text)
  RETURNS void
  LANGUAGE plpgsql AS
$$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM sellers s
     WHERE s.company_id = p_company_id AND s.id <> p_seller_id
       AND s.member_status = 'active' AND s.role IN ('owner', 'admin')
  ) THEN
    RAISE EXCEPTION 'cannot remove % %: the last active owner or admin of company %', p_role, p_seller_id, p_company_id
      USING ERRCODE = 'P0001', HINT = 'Make another member an admin first.', DETAIL = 'ems:last_admin';
  END IF;
END
$$;
