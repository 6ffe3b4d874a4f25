CREATE OR REPLACE FUNCTION ems_current_actor() RETURNS text
  LANGUAGE sql STABLE AS
$$ SELECT coalesce(nullif(current_setting('ems.actor', true), ''), session_user::text) $$
