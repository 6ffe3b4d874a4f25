CREATE OR REPLACE FUNCTION sellers_member_status_audit() RETURNS trigger
  LANGUAGE plpgsql AS
$$
BEGIN
  INSERT INTO company_member_audit (company_id, seller_id, action, previous_status, new_status, actor, reason)
  VALUES (NEW.company_id, NEW.id,
          CASE NEW.member_status WHEN 'active' THEN 'reactivated' WHEN 'suspended' THEN 'suspended' ELSE 'removed' END,
          OLD.member_status, NEW.member_status, ems_current_actor(),
          nullif(current_setting('ems.reason', true), ''));
  RETURN NULL;
END
$$
