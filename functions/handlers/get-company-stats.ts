import { apiRoutes } from '../domain/api-routes';
import { routeHandler } from '../http/handler-kit';

export const handler = routeHandler('getCompanyStats', ({ who, db }) => apiRoutes.getCompanyStats(db, who));
