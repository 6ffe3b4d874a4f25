import { apiRoutes } from '../domain/api-routes';
import { routeHandler } from '../http/handler-kit';

export const handler = routeHandler('getListingRecipient', ({ params, who, db }) => apiRoutes.getListingRecipient(db, who, params.listingId));
