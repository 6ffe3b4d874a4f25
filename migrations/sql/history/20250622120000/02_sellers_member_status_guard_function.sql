CREATE OR REPLACE FUNCTION sellers_member_status_guard() RETURNS trigger
  LANGUAGE plpgsql AS
$$
BEGIN
  IF NEW.member_status IS NOT DISTINCT FROM OLD.member_status THEN
    RETURN NEW;
  END IF;
  IF OLD.member_status = 'active' AND OLD.company_id IS NOT NULL AND OLD.role IN ('owner', 'admin') THEN
    -- Serialise membership changes per company, so two admins removed at once
    -- cannot both see the other as the remaining one.
    PERFORM 1 FROM companies WHERE id = OLD.company_id FOR NO KEY UPDATE;
    IF NOT EXISTS (
      SELECT 1 FROM sellers s
       WHERE s.company_id = OLD.company_id AND s.id <> OLD.id
         AND s.member_status = 'active' AND s.role IN ('owner', 'admin')
    ) THEN
      RAISE EXCEPTION 'cannot remove % %: the last active owner or admin of company %', OLD.role, OLD.id, OLD.company_id
        USING ERRCODE = 'P0001', HINT = 'Make another member an admin first.',
              DETAIL = 'ems:last_admin';
    END IF;
  END IF;
  IF NEW.member_status = 'active' THEN
    NEW.reactivated_at := clock_timestamp();
    NEW.reactivated_by := ems_current_actor();
  ELSE
    NEW.removed_at := clock_timestamp();
    NEW.removed_by := ems_current_actor();
    NEW.removal_reason := coalesce(nullif(current_setting('ems.reason', true), ''), NEW.removal_reason);
  END IF;
  RETURN NEW;
END
$$
