-- POST /messages: a buyer writes about a listing.
CREATE OR REPLACE FUNCTION api_send_message(p_identity text, p_email_verified text, p_listing_id ems_listing_id, p_body text) RETURNS jsonb
  LANGUAGE plpgsql AS
$$
DECLARE
  caller record;
BEGIN
  SELECT * INTO caller FROM ems_api_caller(p_identity, p_email_verified, 'buyer');
  RETURN ems_send_buyer_message(caller.buyer_id, p_listing_id, p_body);
END
$$;
