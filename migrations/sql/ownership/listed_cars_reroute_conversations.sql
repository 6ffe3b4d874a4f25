-- Plain SQL that moves a listing to another company or seller, or puts it live: its open
-- conversations held by someone who may not hold them now (a member of the old company) go to the
-- listing's recipient, logged. Unassigned ones stay so until their next buyer message.
CREATE OR REPLACE FUNCTION listed_cars_reroute_conversations() RETURNS trigger
  LANGUAGE plpgsql AS
$$
DECLARE
  target ems_seller_id;
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM conversations c LEFT JOIN sellers s ON s.id = c.seller_id
     WHERE c.listing_id = NEW.id AND c.status = 'open' AND c.seller_id IS NOT NULL
       AND NOT coalesce(ems_holder_rule(s.id, s.member_status, s.company_id, NEW.company_id, NEW.seller_id), false)
  ) THEN
    RETURN NULL;
  END IF;
  target := ems_lock_listing_recipient(NEW.id, false);
  PERFORM update_conversation_ownership(c.id, target, 'owner_inactive')
     FROM conversations c LEFT JOIN sellers s ON s.id = c.seller_id
    WHERE c.listing_id = NEW.id AND c.status = 'open' AND c.seller_id IS NOT NULL AND c.seller_id IS DISTINCT FROM target
      AND NOT coalesce(ems_holder_rule(s.id, s.member_status, s.company_id, NEW.company_id, NEW.seller_id), false);
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER listed_cars_reroute_conversations
  AFTER UPDATE OF company_id, seller_id, status ON listed_cars
  FOR EACH ROW WHEN (pg_trigger_depth() = 0
                     AND (OLD.company_id IS DISTINCT FROM NEW.company_id OR OLD.seller_id IS DISTINCT FROM NEW.seller_id
                          OR OLD.status IS DISTINCT FROM NEW.status))
  EXECUTE FUNCTION listed_cars_reroute_conversations();
