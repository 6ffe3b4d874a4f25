-- GET /messages/conversation/{conversationId}/ownership-history: its buyer, or the owner/admins of
-- the listing's company. Another company's conversation is not found; a member of the company is forbidden.
CREATE OR REPLACE FUNCTION api_get_conversation_ownership_history(p_identity text, p_email_verified text, p_conversation_id ems_conversation_id)
  RETURNS jsonb
  LANGUAGE plpgsql STABLE AS
$$
DECLARE
  caller record;
  conversation record;
  allowed boolean;
BEGIN
  SELECT * INTO caller FROM ems_api_caller(p_identity, p_email_verified, 'authenticated');
  SELECT c.buyer_id, l.company_id INTO conversation FROM conversations c JOIN listed_cars l ON l.id = c.listing_id WHERE c.id = p_conversation_id;
  IF FOUND THEN
    allowed := CASE WHEN caller.kind = 'buyer' THEN conversation.buyer_id = caller.buyer_id
                    ELSE caller.role <> 'member' AND caller.company_id IS NOT NULL AND caller.company_id = conversation.company_id END;
    IF allowed THEN
      RETURN jsonb_build_object('conversationId', p_conversation_id, 'history', ems_ownership_history(p_conversation_id));
    ELSIF caller.kind = 'seller' AND caller.company_id = conversation.company_id THEN
      PERFORM ems_refuse('forbidden', 'Only the buyer and the company''s owner or admins can read this history');
    END IF;
  END IF;
  PERFORM ems_refuse('not_found', format('conversation %s was not found', p_conversation_id));
END
$$;
