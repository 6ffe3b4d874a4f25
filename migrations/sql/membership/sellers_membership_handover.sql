-- After a member's status or company changed, by any path, in the same transaction:
--  - stopped being active: everything they hold goes to the fallback of the company they were in;
--  - left a company while active: what they hold of that company's listings goes to its fallback;
--  - reactivated: with `ems.restore_listings` on, they get back what they listed in their current
--    company and the fallback still holds;
-- and one company_member_audit row, naming the company left (or, for a reactivation, the company
-- they are active in), with what moved.
CREATE OR REPLACE FUNCTION sellers_membership_handover() RETURNS trigger
  LANGUAGE plpgsql AS
$$
DECLARE
  moved record;
  listings_restored integer := 0;
  conversations_restored integer := 0;
BEGIN
  IF OLD.member_status = 'active' AND NEW.member_status <> 'active' THEN
    SELECT * INTO moved FROM ems_move_holdings_to_fallback(NEW.id, OLD.company_id, 'member_removed', 'member');
    INSERT INTO company_member_audit (company_id, seller_id, action, previous_status, new_status, actor, reason,
                                      listings_moved, conversations_moved, moved_to_seller_id)
    VALUES (OLD.company_id, NEW.id, CASE NEW.member_status WHEN 'suspended' THEN 'suspended' ELSE 'removed' END,
            OLD.member_status, NEW.member_status, ems_current_actor(), nullif(current_setting('ems.reason', true), ''),
            moved.listings_moved, moved.conversations_moved, moved.moved_to);
  ELSIF OLD.member_status = 'active' AND NEW.member_status = 'active' THEN
    IF OLD.company_id IS NOT NULL THEN
      SELECT * INTO moved FROM ems_move_holdings_to_fallback(NEW.id, OLD.company_id, 'member_left_company', 'company');
      INSERT INTO company_member_audit (company_id, seller_id, action, previous_status, new_status, actor, reason,
                                        listings_moved, conversations_moved, moved_to_seller_id)
      VALUES (OLD.company_id, NEW.id, 'left_company', OLD.member_status, NEW.member_status, ems_current_actor(),
              nullif(current_setting('ems.reason', true), ''), moved.listings_moved, moved.conversations_moved, moved.moved_to);
    END IF;
  ELSIF NEW.member_status = 'active' THEN
    IF coalesce(current_setting('ems.restore_listings', true), '') IN ('on', 'true') THEN
      SELECT r.listings_restored, r.conversations_moved INTO listings_restored, conversations_restored
        FROM ems_restore_member_holdings(NEW.id) r;
    END IF;
    INSERT INTO company_member_audit (company_id, seller_id, action, previous_status, new_status, actor, reason,
                                      listings_restored, conversations_moved)
    VALUES (NEW.company_id, NEW.id, 'reactivated', OLD.member_status, NEW.member_status, ems_current_actor(),
            nullif(current_setting('ems.reason', true), ''),
            listings_restored, conversations_restored);
  ELSIF NEW.member_status IS DISTINCT FROM OLD.member_status THEN
    -- removed <-> suspended: nothing to move, but the trail records it.
    INSERT INTO company_member_audit (company_id, seller_id, action, previous_status, new_status, actor, reason)
    VALUES (OLD.company_id, NEW.id, CASE NEW.member_status WHEN 'suspended' THEN 'suspended' ELSE 'removed' END,
            OLD.member_status, NEW.member_status, ems_current_actor(), nullif(current_setting('ems.reason', true), ''));
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER sellers_membership_handover
  AFTER UPDATE OF member_status, company_id ON sellers
  FOR EACH ROW WHEN (OLD.member_status IS DISTINCT FROM NEW.member_status OR OLD.company_id IS DISTINCT FROM NEW.company_id)
  EXECUTE FUNCTION sellers_membership_handover();
