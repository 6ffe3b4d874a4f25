/** Request schemas of the API: validation in the handlers and the OpenAPI description both come from here. */
import { z } from 'zod';

const uuid = (what: string) => z.uuid({ message: `${what} must be a UUID` });

export const ListingParams = z.strictObject({ listingId: uuid('listingId') });
export const ConversationParams = z.strictObject({ conversationId: uuid('conversationId') });
export const SellerParams = z.strictObject({ sellerId: uuid('sellerId') });

export const RemoveMemberBody = z.strictObject({
  reason: z.string().trim().min(1, 'reason is required').max(500),
});

export const ReactivateMemberBody = z.strictObject({
  restoreListings: z.boolean().default(false),
  reason: z.string().trim().min(1).max(500).optional(),
});

export const MessageHandlersBody = z.strictObject({
  handlers: z
    .array(
      z.strictObject({
        sellerId: uuid('sellerId'),
        priority: z.number().int().min(1).max(1000).optional(),
        active: z.boolean().optional(),
      }),
    )
    .min(1)
    .max(50),
});

export const SendMessageBody = z.strictObject({
  listingId: uuid('listingId'),
  body: z.string().trim().min(1, 'body must not be empty').max(5000),
});
