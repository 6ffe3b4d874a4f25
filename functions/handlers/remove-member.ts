import { apiRoutes } from '../domain/api-routes';
import { routeHandler } from '../http/handler-kit';

export const handler = routeHandler(
  'removeMember',
  ({ params, body, who, db }) => apiRoutes.removeMember(db, who, params.sellerId, body.reason),
  (summary) => ({ ListingsMoved: summary.listingsMoved, ConversationsMoved: summary.conversationsMoved }),
);
