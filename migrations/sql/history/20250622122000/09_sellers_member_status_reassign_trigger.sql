CREATE OR REPLACE TRIGGER sellers_member_status_reassign
AFTER UPDATE OF member_status ON sellers
FOR EACH ROW WHEN ((OLD.member_status = 'active') <> (NEW.member_status = 'active'))
EXECUTE FUNCTION sellers_member_status_reassign()
