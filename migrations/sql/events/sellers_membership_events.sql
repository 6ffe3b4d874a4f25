-- Membership events, by any path (the API or plain SQL), one per change of a seller row:
--   member.removed / member.suspended / member.reactivated   (member_status)
--   member.left_company (the company left) and member.joined_company (the company joined)
--   member.role_changed
--   member.removed with "deleted": true                       (DELETE of an active member)
-- For an UPDATE, named to fire before sellers_membership_handover (triggers of one kind fire in name
-- order), so a member's event precedes the hand-over events its change causes. For a DELETE the
-- hand-over happens before the row goes (sellers_delete_guard, BEFORE DELETE): its events come first.
CREATE OR REPLACE FUNCTION sellers_membership_events() RETURNS trigger
  LANGUAGE plpgsql AS
$$
DECLARE
  member jsonb;
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.member_status = 'active' THEN
      PERFORM ems_emit_event(OLD.company_id, 'member.removed',
        jsonb_build_object('sellerId', OLD.id, 'fromStatus', OLD.member_status, 'toStatus', NULL, 'deleted', true));
    END IF;
    RETURN NULL;
  END IF;
  member := jsonb_build_object('sellerId', NEW.id);
  IF NEW.member_status IS DISTINCT FROM OLD.member_status THEN
    PERFORM ems_emit_event(
      CASE WHEN NEW.member_status = 'active' THEN NEW.company_id ELSE OLD.company_id END,
      CASE WHEN NEW.member_status = 'active' THEN 'member.reactivated'
           WHEN NEW.member_status = 'suspended' THEN 'member.suspended'
           ELSE 'member.removed' END,
      member || jsonb_build_object('fromStatus', OLD.member_status, 'toStatus', NEW.member_status, 'deleted', false));
  END IF;
  IF NEW.company_id IS DISTINCT FROM OLD.company_id THEN
    IF OLD.company_id IS NOT NULL THEN
      PERFORM ems_emit_event(OLD.company_id, 'member.left_company',
        member || jsonb_build_object('fromCompanyId', OLD.company_id, 'toCompanyId', NEW.company_id, 'status', NEW.member_status));
    END IF;
    IF NEW.company_id IS NOT NULL THEN
      PERFORM ems_emit_event(NEW.company_id, 'member.joined_company',
        member || jsonb_build_object('fromCompanyId', OLD.company_id, 'toCompanyId', NEW.company_id, 'status', NEW.member_status));
    END IF;
  END IF;
  IF NEW.role IS DISTINCT FROM OLD.role THEN
    PERFORM ems_emit_event(NEW.company_id, 'member.role_changed', member || jsonb_build_object('fromRole', OLD.role, 'toRole', NEW.role));
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER sellers_membership_events
  AFTER UPDATE OF member_status, company_id, role ON sellers
  FOR EACH ROW
  WHEN (OLD.member_status IS DISTINCT FROM NEW.member_status OR OLD.company_id IS DISTINCT FROM NEW.company_id
        OR OLD.role IS DISTINCT FROM NEW.role)
  EXECUTE FUNCTION sellers_membership_events();

CREATE OR REPLACE TRIGGER sellers_membership_events_on_delete
  AFTER DELETE ON sellers
  FOR EACH ROW WHEN (OLD.member_status = 'active')
  EXECUTE FUNCTION sellers_membership_events();
