import { apiRoutes } from '../domain/api-routes';
import { routeHandler } from '../http/handler-kit';

export const handler = routeHandler('getConversationOwnershipHistory', ({ params, who, db }) =>
  apiRoutes.getConversationOwnershipHistory(db, who, params.conversationId),
);
