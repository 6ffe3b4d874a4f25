import { apiRoutes } from '../domain/api-routes';
import { routeHandler } from '../http/handler-kit';

export const handler = routeHandler('sendMessage', ({ body, who, db }) => apiRoutes.sendMessage(db, who, body.listingId, body.body));
