-- A timestamp as the API shows it: ISO 8601 in UTC with milliseconds (what JavaScript's toISOString gives).
CREATE OR REPLACE FUNCTION ems_iso_time(p_at timestamptz) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;
