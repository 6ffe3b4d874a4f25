-- The fallback for a membership change (removal, company move, handler change). These run with the
-- company row locked, so every other membership change of the company waits for this one to commit
-- and then sees what it handed over: in READ COMMITTED (each statement sees the latest commits) the
-- fallback needs no lock of its own, and taking one would deadlock with a change of that fallback
-- waiting for the company row. Under REPEATABLE READ or SERIALIZABLE a statement cannot see later
-- commits, so the fallback is locked (a conflict then surfaces as 40001 or 40P01, for the caller to retry).
CREATE OR REPLACE FUNCTION ems_handover_recipient(
    p_company_id ems_company_id, p_exclude_seller_id ems_seller_id, OUT recipient_id ems_seller_id, OUT recipient_type text)
  LANGUAGE plpgsql AS
$$
BEGIN
  IF p_company_id IS NULL THEN
    RETURN;
  END IF;
  IF current_setting('transaction_isolation') = 'read committed' THEN
    SELECT f.recipient_id, f.recipient_type INTO recipient_id, recipient_type
      FROM ems_fallback_recipient(p_company_id, p_exclude_seller_id) f;
  ELSE
    SELECT f.recipient_id, f.recipient_type INTO recipient_id, recipient_type
      FROM ems_locked_fallback(p_company_id, p_exclude_seller_id) f;
  END IF;
END
$$;
