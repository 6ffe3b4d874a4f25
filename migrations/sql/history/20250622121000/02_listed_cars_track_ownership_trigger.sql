CREATE OR REPLACE TRIGGER listed_cars_track_ownership
BEFORE INSERT OR UPDATE OF seller_id ON listed_cars
FOR EACH ROW EXECUTE FUNCTION listed_cars_track_ownership()
