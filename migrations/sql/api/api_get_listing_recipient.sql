-- GET /messages/listing/{listingId}/recipient: buyers any listing; sellers their company's or their own.
CREATE OR REPLACE FUNCTION api_get_listing_recipient(p_identity text, p_email_verified text, p_listing_id ems_listing_id) RETURNS jsonb
  LANGUAGE plpgsql STABLE AS
$$
DECLARE
  caller record;
  recipient jsonb := ems_recipient_json(p_listing_id);
BEGIN
  SELECT * INTO caller FROM ems_api_caller(p_identity, p_email_verified, 'authenticated');
  IF recipient IS NULL
     OR (caller.kind = 'seller' AND NOT EXISTS (
           SELECT 1 FROM listed_cars l
            WHERE l.id = p_listing_id AND ((caller.company_id IS NOT NULL AND l.company_id = caller.company_id) OR l.seller_id = caller.seller_id))) THEN
    PERFORM ems_refuse('not_found', format('listing %s was not found', p_listing_id));
  END IF;
  RETURN recipient;
END
$$;
