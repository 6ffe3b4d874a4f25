CREATE OR REPLACE TRIGGER company_message_handlers_release
AFTER UPDATE OF is_active ON company_message_handlers
FOR EACH ROW WHEN (OLD.is_active AND NOT NEW.is_active)
EXECUTE FUNCTION company_message_handlers_release()
