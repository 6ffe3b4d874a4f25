-- Plain SQL that would leave an active listing with a holder who may not hold it (a new listing of a
-- removed seller or of another company's member, a draft put live, a parked listing put live, a
-- hand-over to a removed seller or to another company's member, a listing moved to another company)
-- gets the company fallback instead; an independent listing only its own seller. With nobody to take
-- it, the write is refused. Named to fire after listed_cars_track_ownership (alphabetical order).
CREATE OR REPLACE FUNCTION listed_cars_validate_owner() RETURNS trigger
  LANGUAGE plpgsql AS
$$
DECLARE
  fallback_id ems_seller_id;
  fallback_type text;
BEGIN
  -- Locked, not just read: a removal or company move committing now must wait for us, then move this listing.
  IF ems_lock_holder(NEW.current_owner_id, NEW.company_id, NEW.seller_id) THEN
    RETURN NEW;
  END IF;
  SELECT t.recipient_id, t.recipient_type INTO fallback_id, fallback_type
    FROM ems_locked_listing_taker(NEW.company_id, NEW.seller_id) t;
  IF fallback_id IS NULL THEN
    RAISE EXCEPTION 'listing % cannot be active: nobody in its company can receive its messages (an independent listing: its seller is not active)', NEW.id
      USING ERRCODE = 'P0001', DETAIL = 'ems:no_recipient';
  END IF;
  NEW.current_owner_id := fallback_id;
  NEW.current_owner_type := fallback_type;
  RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER listed_cars_validate_owner
  BEFORE INSERT OR UPDATE OF status, current_owner_id, seller_id, company_id ON listed_cars
  FOR EACH ROW WHEN (NEW.status = 'active' AND pg_trigger_depth() = 0)
  EXECUTE FUNCTION listed_cars_validate_owner();
