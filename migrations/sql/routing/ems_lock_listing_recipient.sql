-- The seller who may receive a listing's conversations, locked until commit together with the
-- listing (FOR SHARE, after the seller: the global lock order), so that what a lookup names at
-- commit is who the write used. `p_preferred` is kept when it may hold the listing; otherwise the
-- listing's holder, else the company fallback. `p_active_only`: NULL for a listing that is not
-- active (buyer messages). NULL when nobody may receive.
CREATE OR REPLACE FUNCTION ems_lock_listing_recipient(
    p_listing_id ems_listing_id, p_active_only boolean, p_preferred ems_seller_id DEFAULT NULL)
  RETURNS ems_seller_id
  LANGUAGE plpgsql AS
$$
DECLARE
  l record;
  target ems_seller_id;
BEGIN
  FOR attempt IN 1..5 LOOP
    -- Each attempt is a subtransaction: when the listing changed under it, rolling it back releases
    -- the seller it locked, so a retry never holds one seller while it waits for another.
    BEGIN
      SELECT id, status, company_id, seller_id, current_owner_id INTO l FROM listed_cars WHERE id = p_listing_id;
      IF NOT FOUND OR (p_active_only AND l.status <> 'active') THEN
        RETURN NULL;
      END IF;
      IF ems_lock_holder(p_preferred, l.company_id, l.seller_id) THEN
        target := p_preferred;
      ELSIF ems_lock_holder(l.current_owner_id, l.company_id, l.seller_id) THEN
        target := l.current_owner_id;
      ELSIF l.company_id IS NOT NULL THEN
        SELECT f.recipient_id INTO target FROM ems_locked_fallback(l.company_id) f;
      ELSE
        target := NULL;
      END IF;
      -- The listing as read must still be the listing as it is: same status, company, seller, holder.
      PERFORM 1 FROM listed_cars x
        WHERE x.id = l.id AND x.status = l.status AND x.company_id IS NOT DISTINCT FROM l.company_id
          AND x.seller_id = l.seller_id AND x.current_owner_id IS NOT DISTINCT FROM l.current_owner_id
        FOR SHARE;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'listing % changed while routing', p_listing_id USING ERRCODE = 'EMS01';
      END IF;
      RETURN target;
    EXCEPTION WHEN SQLSTATE 'EMS01' THEN
      NULL; -- start over
    END;
  END LOOP;
  RAISE EXCEPTION 'could not route listing %: it kept changing', p_listing_id USING ERRCODE = '40001';
END
$$;
