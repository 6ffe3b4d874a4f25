-- A conversation's ordered chain of holders with actor, reason and time; NULL for an unknown conversation.
CREATE OR REPLACE FUNCTION ems_ownership_history(p_conversation_id ems_conversation_id) RETURNS jsonb
  LANGUAGE sql STABLE AS
$$
  SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'previousOwnerId', g.previous_owner_id, 'newOwnerId', g.new_owner_id, 'newOwnerName', s.name,
                    'reason', g.reason, 'actor', g.actor, 'changedAt', ems_iso_time(g.changed_at)) ORDER BY g.id)
                  FILTER (WHERE g.id IS NOT NULL), '[]'::jsonb)
    FROM conversations c
    LEFT JOIN conversation_ownership_log g ON g.conversation_id = c.id
    LEFT JOIN sellers s ON s.id = g.new_owner_id
   WHERE c.id = p_conversation_id
  HAVING count(c.id) > 0
$$;
