CREATE OR REPLACE TRIGGER company_message_handlers_validate
BEFORE INSERT OR UPDATE ON company_message_handlers
FOR EACH ROW EXECUTE FUNCTION company_message_handlers_validate()
