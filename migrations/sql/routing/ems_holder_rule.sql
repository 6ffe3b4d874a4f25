-- The routing rule, defined once: may seller `holder` hold a listing (and receive its buyers'
-- messages)? Only an active member of the listing's company; for an independent listing
-- (company_id NULL), only its own seller. Pure values in, so it inlines into any query.
CREATE OR REPLACE FUNCTION ems_holder_rule(
    p_holder_id ems_seller_id, p_holder_status text, p_holder_company_id ems_company_id,
    p_listing_company_id ems_company_id, p_listing_seller_id ems_seller_id)
  RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
  SELECT p_holder_id IS NOT NULL
     AND p_holder_status = 'active'
     AND CASE WHEN p_listing_company_id IS NULL THEN p_holder_id = p_listing_seller_id
              ELSE p_holder_company_id IS NOT DISTINCT FROM p_listing_company_id END
$$;
