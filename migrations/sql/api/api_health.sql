-- GET /health: the database answers and every migration the code expects (`p_expected`, the
-- manifest's names after the baseline) is applied. Refusal: unavailable.
CREATE OR REPLACE FUNCTION api_health(p_expected text[]) RETURNS jsonb
  LANGUAGE plpgsql STABLE AS
$$
DECLARE
  applied text[] := ARRAY(SELECT name FROM knex_migrations);
  pending text[] := ARRAY(SELECT e FROM unnest(p_expected) e WHERE e <> ALL (applied));
BEGIN
  IF cardinality(pending) > 0 THEN
    PERFORM ems_refuse('unavailable', 'Migrations pending: ' || array_to_string(pending, ', '));
  END IF;
  RETURN jsonb_build_object('status', 'ok', 'database', 'reachable',
                            'migrations', jsonb_build_object('applied', cardinality(applied), 'pending', '[]'::jsonb));
END
$$;
