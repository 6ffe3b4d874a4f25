-- Locks a member of a company (their row: the first lock of every membership change) and returns
-- their status, so the status a change checks is the one it changes. Refusal: not_found.
CREATE OR REPLACE FUNCTION ems_lock_company_member(p_company_id ems_company_id, p_seller_id ems_seller_id) RETURNS text
  LANGUAGE plpgsql AS
$$
DECLARE
  status text;
BEGIN
  SELECT member_status INTO status FROM sellers WHERE id = p_seller_id AND company_id = p_company_id FOR NO KEY UPDATE;
  IF FOUND THEN
    RETURN status;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM companies WHERE id = p_company_id) THEN
    PERFORM ems_refuse('not_found', format('company %s was not found', p_company_id));
  END IF;
  PERFORM ems_refuse('not_found', format('member %s was not found', p_seller_id));
END
$$;
