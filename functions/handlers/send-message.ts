import type { z } from 'zod';
import { apiRoutes } from '../domain/api-routes';
import { routeHandler } from '../http/handler-kit';
import type { SendMessageBody } from '../http/schemas';

export const handler = routeHandler<Record<string, never>, z.infer<typeof SendMessageBody>, unknown>('sendMessage', ({ body, who, db }) =>
  apiRoutes.sendMessage(db, who, body.listingId, body.body),
);
