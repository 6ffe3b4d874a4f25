-- POST /company/members/{sellerId}/remove: an owner or admin removes a member of their company.
CREATE OR REPLACE FUNCTION api_remove_member(p_identity text, p_email_verified text, p_seller_id ems_seller_id, p_reason text) RETURNS jsonb
  LANGUAGE plpgsql AS
$$
DECLARE
  caller record;
BEGIN
  SELECT * INTO caller FROM ems_api_caller(p_identity, p_email_verified, 'company_admin');
  RETURN ems_remove_member(caller.company_id, p_seller_id, caller.seller_id::text, p_reason);
END
$$;
