CREATE OR REPLACE TRIGGER conversations_log_start
AFTER INSERT ON conversations
FOR EACH ROW EXECUTE FUNCTION conversations_log_start()
