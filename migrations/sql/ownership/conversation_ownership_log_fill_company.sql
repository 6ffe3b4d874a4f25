-- An ownership-log row written without its company gets the listing's (company statistics read it).
CREATE OR REPLACE FUNCTION conversation_ownership_log_fill_company() RETURNS trigger
  LANGUAGE plpgsql AS
$$
BEGIN
  NEW.company_id := (SELECT company_id FROM listed_cars WHERE id = NEW.listing_id);
  RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER conversation_ownership_log_fill_company
  BEFORE INSERT ON conversation_ownership_log
  FOR EACH ROW WHEN (NEW.company_id IS NULL)
  EXECUTE FUNCTION conversation_ownership_log_fill_company();
