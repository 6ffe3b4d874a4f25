-- Who calls, read on every request from the token's identity (its e-mail claim), so a member removed
-- a second ago is refused even with a token that is still valid; and whether they may use a route of
-- access 'authenticated', 'buyer' or 'company_admin'. Refusals: unauthorized, forbidden.
CREATE OR REPLACE FUNCTION ems_api_caller(
    p_identity text, p_email_verified text, p_access text,
    OUT kind text, OUT seller_id ems_seller_id, OUT buyer_id ems_buyer_id, OUT email text, OUT company_id ems_company_id, OUT role text)
  LANGUAGE plpgsql STABLE AS
$$
DECLARE
  matches integer;
  member_status text;
BEGIN
  IF p_identity IS NULL OR p_identity = '' THEN
    PERFORM ems_refuse('unauthorized', 'The token carries no identity claim');
  END IF;
  -- An identity provider that says the address is unverified cannot vouch for the account.
  IF p_email_verified = 'false' THEN
    PERFORM ems_refuse('forbidden', 'The e-mail address of this token is not verified');
  END IF;
  SELECT count(*) OVER (), a.kind, a.seller_id, a.buyer_id, a.email, a.company_id, a.role, a.member_status
    INTO matches, kind, seller_id, buyer_id, email, company_id, role, member_status
    FROM (SELECT 'seller' AS kind, s.id AS seller_id, NULL::ems_buyer_id AS buyer_id, s.email, s.company_id, s.role, s.member_status
            FROM sellers s WHERE lower(s.email) = lower(p_identity)
          UNION ALL
          SELECT 'buyer', NULL, b.id, b.email, NULL, NULL, NULL FROM buyers b WHERE lower(b.email) = lower(p_identity)) a
   LIMIT 1;
  IF NOT FOUND THEN
    PERFORM ems_refuse('forbidden', 'No marketplace account matches this token');
  END IF;
  -- E-mails differing only in case (or a seller and a buyer sharing one) must not let one act as the other.
  IF matches > 1 THEN
    PERFORM ems_refuse('forbidden', 'More than one marketplace account matches this token; contact support');
  END IF;
  IF kind = 'seller' AND member_status <> 'active' THEN
    PERFORM ems_refuse('forbidden', 'Your company membership is not active');
  END IF;
  IF p_access = 'buyer' AND kind <> 'buyer' THEN
    PERFORM ems_refuse('forbidden', 'Only buyers can do this');
  END IF;
  IF p_access = 'company_admin' AND (kind <> 'seller' OR company_id IS NULL OR role = 'member') THEN
    PERFORM ems_refuse('forbidden', 'Only the company''s owner or admins can do this');
  END IF;
END
$$;
