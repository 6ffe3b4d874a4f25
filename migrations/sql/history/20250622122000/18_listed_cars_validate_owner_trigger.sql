CREATE OR REPLACE TRIGGER listed_cars_validate_owner
BEFORE INSERT OR UPDATE OF status, current_owner_id, seller_id ON listed_cars
FOR EACH ROW WHEN (NEW.status = 'active' AND pg_trigger_depth() = 0)
EXECUTE FUNCTION listed_cars_validate_owner()
