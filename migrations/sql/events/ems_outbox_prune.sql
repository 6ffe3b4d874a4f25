-- Deletes published events older than `p_retention`, at most `p_limit` of them; returns how many.
-- The relay prunes through this function (it runs with its owner's rights) and has no DELETE of its
-- own, so it can never remove an event that was not published.
CREATE OR REPLACE FUNCTION ems_outbox_prune(p_retention interval, p_limit integer) RETURNS integer
  LANGUAGE sql SECURITY DEFINER SET search_path FROM CURRENT AS
$$
  WITH old AS (
    SELECT id FROM messaging_outbox
     WHERE published_at IS NOT NULL AND published_at < now() - p_retention
     ORDER BY id LIMIT greatest(p_limit, 0)
  ), gone AS (
    DELETE FROM messaging_outbox o USING old WHERE o.id = old.id RETURNING 1
  )
  SELECT count(*)::integer FROM gone;
$$;
