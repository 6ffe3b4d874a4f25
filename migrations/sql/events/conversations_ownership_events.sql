-- conversations.moved: every statement that changes conversations' holders (seller_id), by any path,
-- summarised per (the listing's company, from, to): the count and the conversation ids, in pages of
-- at most 1000 ids. The reason is the ownership log's for the move (member_removed, manual_transfer, ...).
CREATE OR REPLACE FUNCTION conversations_ownership_events() RETURNS trigger
  LANGUAGE plpgsql AS
$$
BEGIN
  PERFORM ems_emit_event(
            g.company_id, 'conversations.moved',
            jsonb_build_object('fromSellerId', g.from_id, 'toSellerId', g.to_id, 'count', g.total, 'page', g.page + 1,
                               'pages', g.pages, 'conversationIds', to_jsonb(g.ids),
                               -- update_conversation_ownership names its reason while it moves (its log row
                               -- may come after this trigger); the bulk moves log in the same statement.
                               'logReason', coalesce(nullif(current_setting('ems.transfer_reason', true), ''),
                                                     (SELECT l.reason FROM conversation_ownership_log l
                                                       WHERE l.conversation_id = g.ids[1] ORDER BY l.id DESC LIMIT 1))))
    FROM (SELECT company_id, from_id, to_id, page, max(page) OVER w + 1 AS pages, sum(count(*)) OVER w AS total,
                 array_agg(id ORDER BY id) AS ids
            FROM (SELECT n.id, l.company_id, o.seller_id AS from_id, n.seller_id AS to_id,
                         (row_number() OVER (PARTITION BY l.company_id, o.seller_id, n.seller_id ORDER BY n.id) - 1) / 1000 AS page
                    FROM new_rows n JOIN old_rows o ON o.id = n.id
                    JOIN listed_cars l ON l.id = n.listing_id
                   WHERE n.seller_id IS DISTINCT FROM o.seller_id) changed
           GROUP BY company_id, from_id, to_id, page
          WINDOW w AS (PARTITION BY company_id, from_id, to_id)) g
   ORDER BY g.company_id, g.from_id, g.to_id, g.page;
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER conversations_ownership_events
  AFTER UPDATE ON conversations
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT
  EXECUTE FUNCTION conversations_ownership_events();
