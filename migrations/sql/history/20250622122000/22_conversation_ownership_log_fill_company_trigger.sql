CREATE OR REPLACE TRIGGER conversation_ownership_log_fill_company
BEFORE INSERT ON conversation_ownership_log
FOR EACH ROW WHEN (NEW.company_id IS NULL)
EXECUTE FUNCTION conversation_ownership_log_fill_company()
