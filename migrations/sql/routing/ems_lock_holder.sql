-- ems_holder_rule for a seller id, locked FOR SHARE when it holds: the seller stays an active member
-- of that company until this transaction commits (a removal or company move waits for us). Checked
-- again on the row as it is after any wait, so a concurrent move to another company is seen.
CREATE OR REPLACE FUNCTION ems_lock_holder(p_holder_id ems_seller_id, p_listing_company_id ems_company_id, p_listing_seller_id ems_seller_id)
  RETURNS boolean
  LANGUAGE plpgsql AS
$$
BEGIN
  IF p_holder_id IS NULL THEN
    RETURN false;
  END IF;
  PERFORM 1 FROM sellers s
    WHERE s.id = p_holder_id
      AND ems_holder_rule(s.id, s.member_status, s.company_id, p_listing_company_id, p_listing_seller_id)
    FOR SHARE;
  RETURN FOUND;
END
$$;
