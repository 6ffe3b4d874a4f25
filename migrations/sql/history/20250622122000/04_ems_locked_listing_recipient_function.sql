CREATE OR REPLACE FUNCTION ems_locked_listing_recipient(p_listing_id ems_listing_id) RETURNS ems_seller_id
  LANGUAGE plpgsql AS
$$
DECLARE
  target ems_seller_id;
BEGIN
  FOR attempt IN 1..5 LOOP
    target := (SELECT r.recipient_id FROM get_listing_message_recipient(p_listing_id) r);
    IF target IS NULL THEN
      RETURN NULL;
    END IF;
    PERFORM 1 FROM sellers WHERE id = target AND member_status = 'active' FOR SHARE;
    IF FOUND THEN
      RETURN target;
    END IF;
  END LOOP;
  RETURN NULL;
END
$$
