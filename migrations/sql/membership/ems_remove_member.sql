-- Removes a member of a company (the guide's CompanyController._handleMemberMessaging): the member's
-- row first (the lock order), then the update, whose triggers hand everything over and audit it.
-- Returns what moved, and to whom. Refusals: not_found, already_removed, last_admin.
CREATE OR REPLACE FUNCTION ems_remove_member(p_company_id ems_company_id, p_seller_id ems_seller_id, p_actor text, p_reason text) RETURNS jsonb
  LANGUAGE plpgsql AS
$$
DECLARE
  status text;
  audit record;
BEGIN
  PERFORM set_config('ems.actor', p_actor, true), set_config('ems.reason', coalesce(p_reason, ''), true);
  status := ems_lock_company_member(p_company_id, p_seller_id);
  IF status = 'removed' THEN
    PERFORM ems_refuse('already_removed', format('member %s is already removed', p_seller_id));
  END IF;
  UPDATE sellers SET member_status = 'removed' WHERE id = p_seller_id;
  SELECT a.listings_moved, a.conversations_moved, a.moved_to_seller_id, s.name AS moved_to_name INTO audit
    FROM company_member_audit a LEFT JOIN sellers s ON s.id = a.moved_to_seller_id
   WHERE a.seller_id = p_seller_id AND a.transaction_id = pg_current_xact_id()
   ORDER BY a.id DESC LIMIT 1;
  RETURN jsonb_build_object(
    'sellerId', p_seller_id, 'companyId', p_company_id, 'status', 'removed',
    'listingsMoved', audit.listings_moved, 'conversationsMoved', audit.conversations_moved,
    'movedTo', CASE WHEN audit.moved_to_seller_id IS NULL THEN NULL
                    ELSE jsonb_build_object('id', audit.moved_to_seller_id, 'name', audit.moved_to_name) END);
END
$$;
