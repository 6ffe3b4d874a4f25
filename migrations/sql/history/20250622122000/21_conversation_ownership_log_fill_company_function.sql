CREATE OR REPLACE FUNCTION conversation_ownership_log_fill_company() RETURNS trigger
  LANGUAGE plpgsql AS
$$
BEGIN
  NEW.company_id := (SELECT company_id FROM listed_cars WHERE id = NEW.listing_id);
  RETURN NEW;
END
$$
