-- POST /company/members/{sellerId}/reactivate: an owner or admin reactivates a member of their company.
CREATE OR REPLACE FUNCTION api_reactivate_member(
    p_identity text, p_email_verified text, p_seller_id ems_seller_id, p_restore_listings boolean, p_reason text) RETURNS jsonb
  LANGUAGE plpgsql AS
$$
DECLARE
  caller record;
BEGIN
  SELECT * INTO caller FROM ems_api_caller(p_identity, p_email_verified, 'company_admin');
  RETURN ems_reactivate_member(caller.company_id, p_seller_id, caller.seller_id::text, p_restore_listings, p_reason);
END
$$;
