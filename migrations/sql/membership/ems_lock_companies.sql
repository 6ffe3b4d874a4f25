-- The first lock of every membership change after the member's own row: the company rows involved,
-- in ascending id order. Membership changes of one company run one at a time, so each sees what the
-- one before it handed over, and two moves between the same companies cannot deadlock.
-- (PL/pgSQL: PERFORM runs the query to the end, so every row is locked.)
CREATE OR REPLACE FUNCTION ems_lock_companies(p_first ems_company_id, p_second ems_company_id DEFAULT NULL)
  RETURNS void
  LANGUAGE plpgsql AS
$$
BEGIN
  PERFORM 1 FROM companies WHERE id IN (p_first, p_second) ORDER BY id FOR NO KEY UPDATE;
END
$$;
