CREATE OR REPLACE FUNCTION sellers_company_change_reassign() RETURNS trigger
  LANGUAGE plpgsql AS
$$
BEGIN
  PERFORM ems_move_holdings_to_fallback(NEW.id, OLD.company_id, 'member_removed', 'company');
  RETURN NULL;
END
$$
