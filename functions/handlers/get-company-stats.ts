import { adminCompanyId } from '../domain/callers';
import { getCompanyStats } from '../domain/company';
import { routeHandler } from '../http/handler-kit';

export const handler = routeHandler('getCompanyStats', ({ caller, db }) => getCompanyStats(db, adminCompanyId(caller!)));
