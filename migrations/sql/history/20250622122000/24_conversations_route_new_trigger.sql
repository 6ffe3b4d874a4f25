CREATE OR REPLACE TRIGGER conversations_route_new
BEFORE INSERT ON conversations
FOR EACH ROW EXECUTE FUNCTION conversations_route_new()
