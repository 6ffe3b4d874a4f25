CREATE OR REPLACE FUNCTION conversations_log_start() RETURNS trigger
  LANGUAGE plpgsql AS
$$
BEGIN
  INSERT INTO conversation_ownership_log (conversation_id, listing_id, previous_owner_id, new_owner_id, reason, actor)
  VALUES (NEW.id, NEW.listing_id, NULL, NEW.seller_id, 'conversation_started', ems_current_actor());
  RETURN NULL;
END
$$
