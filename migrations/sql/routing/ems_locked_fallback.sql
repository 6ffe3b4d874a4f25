-- The fallback chain's recipient, locked as a holder of the company's listings until commit (chosen
-- again when the first choice left meanwhile). NULLs when nobody in the company can take over.
CREATE OR REPLACE FUNCTION ems_locked_fallback(
    p_company_id ems_company_id, p_exclude_seller_id ems_seller_id DEFAULT NULL, OUT recipient_id ems_seller_id, OUT recipient_type text)
  LANGUAGE plpgsql AS
$$
BEGIN
  FOR attempt IN 1..5 LOOP
    SELECT f.recipient_id, f.recipient_type INTO recipient_id, recipient_type
      FROM ems_fallback_recipient(p_company_id, p_exclude_seller_id) f;
    IF recipient_id IS NULL OR ems_lock_holder(recipient_id, p_company_id, NULL) THEN
      RETURN;
    END IF;
  END LOOP;
  RAISE EXCEPTION 'could not hand over to a member of company %: its members kept changing', p_company_id
    USING ERRCODE = '40001';
END
$$;
