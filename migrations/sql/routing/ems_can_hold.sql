-- ems_holder_rule for a seller id, read without a lock (a check, not a promise until commit).
CREATE OR REPLACE FUNCTION ems_can_hold(p_holder_id ems_seller_id, p_listing_company_id ems_company_id, p_listing_seller_id ems_seller_id)
  RETURNS boolean
  LANGUAGE sql STABLE AS
$$
  SELECT EXISTS (
    SELECT 1 FROM sellers s
     WHERE s.id = p_holder_id
       AND ems_holder_rule(s.id, s.member_status, s.company_id, p_listing_company_id, p_listing_seller_id))
$$;
