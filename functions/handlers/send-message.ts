import type { z } from 'zod';
import { sendBuyerMessage } from '../domain/messaging';
import { routeHandler } from '../http/handler-kit';
import type { SendMessageBody } from '../http/schemas';

export const handler = routeHandler<Record<string, never>, z.infer<typeof SendMessageBody>, unknown>('sendMessage', ({ body, caller, db }) =>
  sendBuyerMessage(db, { buyerId: caller!.id, listingId: body.listingId, body: body.body }),
);
