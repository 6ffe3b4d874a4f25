import { apiRoutes } from '../domain/api-routes';
import { routeHandler } from '../http/handler-kit';

export const handler = routeHandler(
  'reactivateMember',
  ({ params, body, who, db }) => apiRoutes.reactivateMember(db, who, params.sellerId, body.restoreListings, body.reason),
  (summary) => ({ ListingsRestored: summary.listingsRestored, ConversationsMoved: summary.conversationsRestored }),
);
