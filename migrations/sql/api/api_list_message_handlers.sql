-- GET /company/message-handlers: the caller's company's handlers, for its owner and admins.
CREATE OR REPLACE FUNCTION api_list_message_handlers(p_identity text, p_email_verified text) RETURNS jsonb
  LANGUAGE plpgsql STABLE AS
$$
DECLARE
  caller record;
BEGIN
  SELECT * INTO caller FROM ems_api_caller(p_identity, p_email_verified, 'company_admin');
  RETURN jsonb_build_object('handlers', ems_message_handlers(caller.company_id));
END
$$;
