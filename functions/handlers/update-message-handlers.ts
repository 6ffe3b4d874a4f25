import type { z } from 'zod';
import { apiRoutes } from '../domain/api-routes';
import { routeHandler } from '../http/handler-kit';
import type { MessageHandlersBody } from '../http/schemas';

export const handler = routeHandler<Record<string, never>, z.infer<typeof MessageHandlersBody>, unknown>('updateMessageHandlers', ({ body, who, db }) =>
  apiRoutes.updateMessageHandlers(db, who, body.handlers),
);
