CREATE OR REPLACE TRIGGER sellers_member_status_audit
AFTER UPDATE OF member_status ON sellers
FOR EACH ROW WHEN (OLD.member_status IS DISTINCT FROM NEW.member_status)
EXECUTE FUNCTION sellers_member_status_audit()
