-- Reactivates a member (the guide's _handleMemberReactivationMessaging), optionally giving back what
-- the fallback still holds of their current company's listings. Refusals: not_found, already_active.
CREATE OR REPLACE FUNCTION ems_reactivate_member(
    p_company_id ems_company_id, p_seller_id ems_seller_id, p_actor text, p_restore_listings boolean, p_reason text) RETURNS jsonb
  LANGUAGE plpgsql AS
$$
DECLARE
  status text;
  audit record;
BEGIN
  PERFORM set_config('ems.actor', p_actor, true), set_config('ems.reason', coalesce(p_reason, ''), true),
          set_config('ems.restore_listings', CASE WHEN p_restore_listings THEN 'on' ELSE 'off' END, true);
  status := ems_lock_company_member(p_company_id, p_seller_id);
  IF status = 'active' THEN
    PERFORM ems_refuse('already_active', format('member %s is already active', p_seller_id));
  END IF;
  UPDATE sellers SET member_status = 'active' WHERE id = p_seller_id;
  SELECT a.listings_restored, a.conversations_moved INTO audit
    FROM company_member_audit a
   WHERE a.seller_id = p_seller_id AND a.transaction_id = pg_current_xact_id()
   ORDER BY a.id DESC LIMIT 1;
  RETURN jsonb_build_object('sellerId', p_seller_id, 'companyId', p_company_id, 'status', 'active',
                            'listingsRestored', audit.listings_restored, 'conversationsRestored', audit.conversations_moved);
END
$$;
