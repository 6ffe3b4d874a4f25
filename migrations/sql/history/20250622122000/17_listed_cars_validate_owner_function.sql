CREATE OR REPLACE FUNCTION listed_cars_validate_owner() RETURNS trigger
  LANGUAGE plpgsql AS
$$
DECLARE
  fallback_id ems_seller_id;
  fallback_type text;
BEGIN
  -- Locked, not just read: a removal committing now must wait for us, then move this listing.
  IF NEW.current_owner_id IS NOT NULL THEN
    PERFORM 1 FROM sellers WHERE id = NEW.current_owner_id AND member_status = 'active' FOR SHARE;
    IF FOUND THEN
      RETURN NEW;
    END IF;
  END IF;
  SELECT f.recipient_id, f.recipient_type INTO fallback_id, fallback_type
    FROM ems_locked_fallback(coalesce(NEW.company_id, (SELECT company_id FROM sellers WHERE id = NEW.seller_id))) f;
  IF fallback_id IS NULL THEN
    RAISE EXCEPTION 'listing % cannot be active: nobody in its company can receive its messages', NEW.id
      USING ERRCODE = 'P0001', DETAIL = 'ems:no_recipient';
  END IF;
  NEW.current_owner_id := fallback_id;
  NEW.current_owner_type := fallback_type;
  RETURN NEW;
END
$$
