-- Refuses a request with a code of the error contract (functions/shared/refusals.ts maps each code
-- to its HTTP status): SQLSTATE P0001, DETAIL 'ems:<code>'.
CREATE OR REPLACE FUNCTION ems_refuse(p_code text, p_message text) RETURNS void
  LANGUAGE plpgsql AS
$$
BEGIN
  RAISE EXCEPTION '%', p_message USING ERRCODE = 'P0001', DETAIL = 'ems:' || p_code;
END
$$;
