import type { z } from 'zod';
import { adminCompanyId } from '../domain/callers';
import { updateMessageHandlers } from '../domain/company';
import { routeHandler } from '../http/handler-kit';
import type { MessageHandlersBody } from '../http/schemas';

export const handler = routeHandler<Record<string, never>, z.infer<typeof MessageHandlersBody>, unknown>(
  'updateMessageHandlers',
  async ({ body, caller, db }) => ({
    handlers: await updateMessageHandlers(db, { companyId: adminCompanyId(caller!), actor: caller!.id, changes: body.handlers }),
  }),
);
