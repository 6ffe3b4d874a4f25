-- The id type of each marketplace entity, as the marketplace's own tables have it: one domain per
-- entity (ems_company_id, ems_seller_id, ems_buyer_id, ems_listing_id, ems_conversation_id) over
-- uuid, bigint or integer, detected from the `id` column of the base table. Every messaging column,
-- function and view names the domain, never the base type, so the same SQL files install into a
-- marketplace built with uuid ids and into one built with knex's increments(). Created once, on
-- first install; a domain that exists already must still match its table (the runner's pre-flight
-- says so earlier, with the query to look; this is the last line of defence).
DO $$
DECLARE
  entity record;
  id_type text;
  recorded text;
BEGIN
  FOR entity IN SELECT * FROM (VALUES
      ('ems_company_id', 'companies'), ('ems_seller_id', 'sellers'), ('ems_buyer_id', 'buyers'),
      ('ems_listing_id', 'listed_cars'), ('ems_conversation_id', 'conversations')) AS e(domain_name, table_name)
  LOOP
    SELECT format_type(a.atttypid, a.atttypmod) INTO id_type
      FROM pg_attribute a
     WHERE a.attrelid = to_regclass(quote_ident(current_schema()) || '.' || entity.table_name)
       AND a.attname = 'id' AND NOT a.attisdropped;
    IF id_type IS NULL THEN
      RAISE EXCEPTION 'table %.% with an id column is missing', current_schema(), entity.table_name;
    ELSIF id_type NOT IN ('uuid', 'bigint', 'integer') THEN
      RAISE EXCEPTION '%.id is %: the messaging system takes uuid, bigint or integer ids', entity.table_name, id_type;
    END IF;
    SELECT format_type(t.typbasetype, t.typtypmod) INTO recorded
      FROM pg_type t
     WHERE t.typname = entity.domain_name AND t.typnamespace = current_schema()::regnamespace AND t.typtype = 'd';
    IF recorded IS NULL THEN
      EXECUTE format('CREATE DOMAIN %I AS %s', entity.domain_name, id_type);
      EXECUTE format('COMMENT ON DOMAIN %I IS %L', entity.domain_name,
                     format('The id of %s (recorded on install from %s.id).', entity.table_name, entity.table_name));
    ELSIF recorded <> id_type THEN
      RAISE EXCEPTION 'the domain % is % but %.id is %: the ids changed type after the messaging system was installed',
        entity.domain_name, recorded, entity.table_name, id_type;
    END IF;
  END LOOP;
END
$$;
