import { adminCompanyId } from '../domain/callers';
import { listMessageHandlers } from '../domain/company';
import { routeHandler } from '../http/handler-kit';

export const handler = routeHandler('listMessageHandlers', async ({ caller, db }) => ({
  handlers: await listMessageHandlers(db, adminCompanyId(caller!)),
}));
