-- listings.handed_over: every statement that changes listings' holders (current_owner_id), by any
-- path, summarised per (company, from, to): the count and the listing ids, in pages of at most 1000
-- ids, so a hand-over of 20,000 listings is 20 events, not 20,000.
CREATE OR REPLACE FUNCTION listed_cars_ownership_events() RETURNS trigger
  LANGUAGE plpgsql AS
$$
BEGIN
  PERFORM ems_emit_event(
            g.company_id, 'listings.handed_over',
            jsonb_build_object('fromSellerId', g.from_id, 'toSellerId', g.to_id, 'toType', g.to_type,
                               'count', g.total, 'page', g.page + 1, 'pages', g.pages, 'listingIds', to_jsonb(g.ids)))
    FROM (SELECT company_id, from_id, to_id, to_type, page, max(page) OVER w + 1 AS pages, sum(count(*)) OVER w AS total,
                 array_agg(id ORDER BY id) AS ids
            FROM (SELECT n.id, n.company_id, o.current_owner_id AS from_id, n.current_owner_id AS to_id,
                         n.current_owner_type AS to_type,
                         (row_number() OVER (PARTITION BY n.company_id, o.current_owner_id, n.current_owner_id ORDER BY n.id) - 1) / 1000 AS page
                    FROM new_rows n JOIN old_rows o ON o.id = n.id
                   WHERE n.current_owner_id IS DISTINCT FROM o.current_owner_id) changed
           GROUP BY company_id, from_id, to_id, to_type, page
          WINDOW w AS (PARTITION BY company_id, from_id, to_id, to_type)) g
   ORDER BY g.company_id, g.from_id, g.to_id, g.page;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER listed_cars_ownership_events
  AFTER UPDATE ON listed_cars
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT
  EXECUTE FUNCTION listed_cars_ownership_events();
