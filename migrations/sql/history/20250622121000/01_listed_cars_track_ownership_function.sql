CREATE OR REPLACE FUNCTION listed_cars_track_ownership() RETURNS trigger
  LANGUAGE plpgsql AS
$$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.original_seller_id := coalesce(NEW.original_seller_id, NEW.seller_id);
    IF NEW.current_owner_id IS NULL AND NEW.current_owner_type IS DISTINCT FROM 'unassigned' THEN
      NEW.current_owner_id := NEW.seller_id;
      NEW.current_owner_type := 'seller';
    END IF;
  ELSIF NEW.seller_id IS DISTINCT FROM OLD.seller_id AND NEW.current_owner_id IS NOT DISTINCT FROM OLD.current_owner_id THEN
    -- The marketplace handed the listing to another seller: they own it from now on.
    NEW.current_owner_id := NEW.seller_id;
    NEW.current_owner_type := 'seller';
  END IF;
  RETURN NEW;
END
$$
