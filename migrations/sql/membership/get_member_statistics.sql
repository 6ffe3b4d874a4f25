-- Member counts by status and recent departures/reactivations for a company. A member who left the
-- company (moved elsewhere) counts as a removal for the company they left.
CREATE OR REPLACE FUNCTION get_member_statistics(p_company_id ems_company_id)
  RETURNS TABLE (company_id ems_company_id, total_members bigint, active_members bigint, removed_members bigint,
                 suspended_members bigint, active_admins bigint, removals_last_30_days bigint,
                 reactivations_last_30_days bigint)
  LANGUAGE sql STABLE AS
$$
  SELECT p_company_id,
         count(*),
         count(*) FILTER (WHERE s.member_status = 'active'),
         count(*) FILTER (WHERE s.member_status = 'removed'),
         count(*) FILTER (WHERE s.member_status = 'suspended'),
         count(*) FILTER (WHERE s.member_status = 'active' AND s.role IN ('owner', 'admin')),
         (SELECT count(*) FROM company_member_audit a
           WHERE a.company_id = p_company_id AND a.action IN ('removed', 'suspended', 'left_company')
             AND a.created_at > now() - interval '30 days'),
         (SELECT count(*) FROM company_member_audit a
           WHERE a.company_id = p_company_id AND a.action = 'reactivated'
             AND a.created_at > now() - interval '30 days')
    FROM sellers s
   WHERE s.company_id = p_company_id
$$;
