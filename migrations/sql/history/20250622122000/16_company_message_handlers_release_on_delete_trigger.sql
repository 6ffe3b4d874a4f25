CREATE OR REPLACE TRIGGER company_message_handlers_release_on_delete
AFTER DELETE ON company_message_handlers
FOR EACH ROW WHEN (OLD.is_active)
EXECUTE FUNCTION company_message_handlers_release()
