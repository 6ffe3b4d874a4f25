import { apiRoutes } from '../domain/api-routes';
import { routeHandler } from '../http/handler-kit';

export const handler = routeHandler('listMessageHandlers', ({ who, db }) => apiRoutes.listMessageHandlers(db, who));
