CREATE OR REPLACE FUNCTION ems_locked_fallback(
    p_company_id ems_company_id, p_exclude_seller_id ems_seller_id DEFAULT NULL, OUT recipient_id ems_seller_id, OUT recipient_type text)
  LANGUAGE plpgsql AS
$$
BEGIN
  FOR attempt IN 1..5 LOOP
    SELECT f.recipient_id, f.recipient_type INTO recipient_id, recipient_type
      FROM ems_fallback_recipient(p_company_id, p_exclude_seller_id) f;
    IF recipient_id IS NULL THEN
      RETURN;
    END IF;
    PERFORM 1 FROM sellers s WHERE s.id = recipient_id AND s.member_status = 'active' FOR SHARE;
    IF FOUND THEN
      RETURN;
    END IF;
  END LOOP;
  recipient_id := NULL;
  recipient_type := NULL;
END
$$
