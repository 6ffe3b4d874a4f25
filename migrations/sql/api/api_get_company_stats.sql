-- GET /company/stats/enhanced: the caller's company, for its owner and admins.
CREATE OR REPLACE FUNCTION api_get_company_stats(p_identity text, p_email_verified text) RETURNS jsonb
  LANGUAGE plpgsql STABLE AS
$$
DECLARE
  caller record;
BEGIN
  SELECT * INTO caller FROM ems_api_caller(p_identity, p_email_verified, 'company_admin');
  RETURN ems_company_stats(caller.company_id);
END
$$;
