CREATE OR REPLACE FUNCTION conversations_route_new() RETURNS trigger
  LANGUAGE plpgsql AS
$$
BEGIN
  IF NEW.seller_id IS NOT NULL THEN
    PERFORM 1 FROM sellers WHERE id = NEW.seller_id AND member_status = 'active' FOR SHARE;
  END IF;
  IF NEW.seller_id IS NULL OR NOT FOUND THEN
    NEW.seller_id := ems_locked_listing_recipient(NEW.listing_id);
  END IF;
  RETURN NEW;
END
$$
