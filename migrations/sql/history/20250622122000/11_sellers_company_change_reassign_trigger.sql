CREATE OR REPLACE TRIGGER sellers_company_change_reassign
AFTER UPDATE OF company_id ON sellers
FOR EACH ROW WHEN (OLD.company_id IS NOT NULL AND OLD.company_id IS DISTINCT FROM NEW.company_id
                   AND OLD.member_status = 'active' AND NEW.member_status = 'active')
EXECUTE FUNCTION sellers_company_change_reassign()
