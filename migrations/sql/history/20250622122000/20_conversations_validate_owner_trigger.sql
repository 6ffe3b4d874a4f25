CREATE OR REPLACE TRIGGER conversations_validate_owner
BEFORE UPDATE OF status, seller_id ON conversations
FOR EACH ROW WHEN (pg_trigger_depth() = 0 AND current_setting('ems.bulk_move', true) IS DISTINCT FROM 'on')
EXECUTE FUNCTION conversations_validate_owner()
