CREATE OR REPLACE TRIGGER messages_route_buyer_message
BEFORE INSERT ON messages
FOR EACH ROW WHEN (NEW.sender_type = 'buyer')
EXECUTE FUNCTION messages_route_buyer_message()
