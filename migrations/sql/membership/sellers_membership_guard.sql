-- Before any change of a member's status, company or role, by any path: lock the company rows
-- involved (the lock order: this member's row, which the statement holds, then companies, then
-- everyone else), keep the company's last active owner or admin, and stamp who removed or
-- reactivated the member and why.
CREATE OR REPLACE FUNCTION sellers_membership_guard() RETURNS trigger
  LANGUAGE plpgsql AS
$$
BEGIN
  PERFORM ems_lock_companies(OLD.company_id, NEW.company_id);
  IF OLD.member_status = 'active' AND OLD.company_id IS NOT NULL AND OLD.role IN ('owner', 'admin')
     AND NOT (NEW.member_status = 'active' AND NEW.company_id IS NOT DISTINCT FROM OLD.company_id
              AND NEW.role IN ('owner', 'admin')) THEN
    PERFORM ems_assert_not_last_admin(OLD.id, OLD.company_id, OLD.role);
  END IF;
  IF NEW.member_status IS DISTINCT FROM OLD.member_status THEN
    IF NEW.member_status = 'active' THEN
      NEW.reactivated_at := clock_timestamp();
      NEW.reactivated_by := ems_current_actor();
    ELSE
      NEW.removed_at := clock_timestamp();
      NEW.removed_by := ems_current_actor();
      NEW.removal_reason := coalesce(nullif(current_setting('ems.reason', true), ''), NEW.removal_reason);
    END IF;
  END IF;
  RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER sellers_membership_guard
  BEFORE UPDATE OF member_status, company_id, role ON sellers
  FOR EACH ROW WHEN (OLD.member_status IS DISTINCT FROM NEW.member_status
                     OR OLD.company_id IS DISTINCT FROM NEW.company_id
                     OR OLD.role IS DISTINCT FROM NEW.role)
  EXECUTE FUNCTION sellers_membership_guard();
