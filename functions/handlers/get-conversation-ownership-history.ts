import type { z } from 'zod';
import { apiRoutes } from '../domain/api-routes';
import { routeHandler } from '../http/handler-kit';
import type { ConversationParams } from '../http/schemas';

export const handler = routeHandler<z.infer<typeof ConversationParams>, undefined, unknown>('getConversationOwnershipHistory', ({ params, who, db }) =>
  apiRoutes.getConversationOwnershipHistory(db, who, params.conversationId),
);
