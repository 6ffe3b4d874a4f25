-- A company's statistics: members by status, active listings by holder type, conversations moved in
-- the last 30 days, handler load, and removals/reactivations per day (days with activity only).
-- Refusal: not_found.
CREATE OR REPLACE FUNCTION ems_company_stats(p_company_id ems_company_id) RETURNS jsonb
  LANGUAGE plpgsql STABLE AS
$$
DECLARE
  m record;
BEGIN
  PERFORM 1 FROM companies WHERE id = p_company_id;
  IF NOT FOUND THEN
    PERFORM ems_refuse('not_found', format('company %s was not found', p_company_id));
  END IF;
  SELECT * INTO m FROM get_member_statistics(p_company_id);
  RETURN jsonb_build_object(
    'companyId', p_company_id,
    'members', jsonb_build_object('total', m.total_members, 'active', m.active_members, 'removed', m.removed_members,
                                  'suspended', m.suspended_members, 'activeAdmins', m.active_admins),
    'activeListingsByOwnerType', (
      SELECT coalesce(jsonb_object_agg(t.current_owner_type, t.n), '{}'::jsonb)
        FROM (SELECT current_owner_type, count(*) AS n FROM listed_cars
               WHERE company_id = p_company_id AND status = 'active' GROUP BY current_owner_type) t),
    'conversationsMovedLast30Days', (
      SELECT count(*) FROM conversation_ownership_log
       WHERE company_id = p_company_id AND reason <> 'conversation_started' AND changed_at > now() - interval '30 days'),
    'handlers', (
      SELECT coalesce(jsonb_agg(jsonb_build_object('sellerId', h.seller_id, 'name', h.seller_name, 'priority', h.priority,
                                                   'openConversations', h.open_conversations) ORDER BY h.priority, h.created_at), '[]'::jsonb)
        FROM active_company_message_handlers h WHERE h.company_id = p_company_id),
    'membershipChanges', (
      SELECT coalesce(jsonb_agg(jsonb_build_object('day', d.day, 'removals', d.removals, 'reactivations', d.reactivations) ORDER BY d.day), '[]'::jsonb)
        FROM (SELECT to_char(date_trunc('day', created_at), 'YYYY-MM-DD') AS day,
                     count(*) FILTER (WHERE action IN ('removed', 'suspended', 'left_company')) AS removals,
                     count(*) FILTER (WHERE action = 'reactivated') AS reactivations
                FROM company_member_audit
               WHERE company_id = p_company_id AND created_at > now() - interval '30 days'
               GROUP BY 1) d));
END
$$;
