-- A conversation opened by any code path is held by someone who may hold its listing (the seller it
-- names, when they may; else the listing's recipient), locked until commit.
CREATE OR REPLACE FUNCTION conversations_route_new() RETURNS trigger
  LANGUAGE plpgsql AS
$$
BEGIN
  IF NEW.status = 'open' THEN
    NEW.seller_id := ems_lock_listing_recipient(NEW.listing_id, false, NEW.seller_id);
  END IF;
  RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER conversations_route_new
  BEFORE INSERT ON conversations
  FOR EACH ROW EXECUTE FUNCTION conversations_route_new();
