-- Who takes a listing whose holder may not hold it: for a company listing the company's fallback
-- chain, for an independent listing only its own seller; locked as holders (ems_lock_holder) until
-- commit. NULLs when nobody may.
CREATE OR REPLACE FUNCTION ems_locked_listing_taker(
    p_company_id ems_company_id, p_seller_id ems_seller_id, OUT recipient_id ems_seller_id, OUT recipient_type text)
  LANGUAGE plpgsql AS
$$
BEGIN
  IF p_company_id IS NOT NULL THEN
    SELECT f.recipient_id, f.recipient_type INTO recipient_id, recipient_type FROM ems_locked_fallback(p_company_id) f;
  ELSIF ems_lock_holder(p_seller_id, NULL, p_seller_id) THEN
    recipient_id := p_seller_id;
    recipient_type := 'seller';
  END IF;
END
$$;
