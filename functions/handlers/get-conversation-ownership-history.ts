import type { z } from 'zod';
import { getOwnershipHistoryFor } from '../domain/messaging';
import { routeHandler } from '../http/handler-kit';
import type { ConversationParams } from '../http/schemas';

export const handler = routeHandler<z.infer<typeof ConversationParams>, undefined, unknown>(
  'getConversationOwnershipHistory',
  async ({ params, caller, db }) => ({
    conversationId: params.conversationId,
    history: await getOwnershipHistoryFor(db, caller!, params.conversationId),
  }),
);
