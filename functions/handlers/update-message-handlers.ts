import { apiRoutes } from '../domain/api-routes';
import { routeHandler } from '../http/handler-kit';

export const handler = routeHandler('updateMessageHandlers', ({ body, who, db }) => apiRoutes.updateMessageHandlers(db, who, body.handlers));
