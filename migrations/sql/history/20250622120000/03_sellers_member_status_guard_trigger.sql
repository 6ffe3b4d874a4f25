CREATE OR REPLACE TRIGGER sellers_member_status_guard
BEFORE UPDATE OF member_status ON sellers
FOR EACH ROW EXECUTE FUNCTION sellers_member_status_guard()
