CREATE OR REPLACE FUNCTION company_message_handlers_validate() RETURNS trigger
  LANGUAGE plpgsql AS
$$
BEGIN
  NEW.updated_at := clock_timestamp();
  IF NEW.is_active AND NOT EXISTS (
    SELECT 1 FROM sellers s WHERE s.id = NEW.seller_id AND s.company_id = NEW.company_id AND s.member_status = 'active'
  ) THEN
    RAISE EXCEPTION 'seller % is not an active member of company % and cannot handle its messages', NEW.seller_id, NEW.company_id
      USING ERRCODE = 'P0001', DETAIL = 'ems:invalid_handler';
  END IF;
  RETURN NEW;
END
$$
