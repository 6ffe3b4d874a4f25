-- A deleted conversation takes its ownership history with it (what the log's foreign key did with
-- ON DELETE CASCADE). The log has no foreign key: a member's removal writes 20,000 log rows in one
-- statement, and a key check per row was an eighth of its time. Our code writes log rows only for
-- a conversation it has just locked and changed, so none can point at a missing one.
CREATE OR REPLACE FUNCTION conversations_delete_history() RETURNS trigger
  LANGUAGE plpgsql AS
$$
BEGIN
  DELETE FROM conversation_ownership_log g USING deleted_conversations d WHERE g.conversation_id = d.id;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER conversations_delete_history
  AFTER DELETE ON conversations
  REFERENCING OLD TABLE AS deleted_conversations
  FOR EACH STATEMENT EXECUTE FUNCTION conversations_delete_history();
