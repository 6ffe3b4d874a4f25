-- PUT /company/message-handlers: all changes or none, for the company's owner and admins.
CREATE OR REPLACE FUNCTION api_update_message_handlers(p_identity text, p_email_verified text, p_changes jsonb) RETURNS jsonb
  LANGUAGE plpgsql AS
$$
DECLARE
  caller record;
BEGIN
  SELECT * INTO caller FROM ems_api_caller(p_identity, p_email_verified, 'company_admin');
  RETURN jsonb_build_object('handlers', ems_update_message_handlers(caller.company_id, caller.seller_id::text, p_changes));
END
$$;
