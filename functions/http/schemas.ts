/**
 * The API's request schemas, validated by the handlers (the success bodies: response-schemas.ts).
 * The handlers' types and the OpenAPI document (`npm run openapi`) come from here.
 *
 * zod/mini with its English messages only: every API bundle builds these schemas on a cold start,
 * and mini's schemas are plain objects where classic zod's carry their methods, which made up most
 * of a handler's own load time (bench step g). Same checks, same messages, same JSON Schema.
 */
import * as z from 'zod/mini';
import { en } from 'zod/v4/locales';

// What classic zod does on load; mini leaves it to the application (without it: "Invalid input").
z.config(en());

const uuid = (what: string) => z.uuid({ message: `${what} must be a UUID` });
/** A string trimmed before its length is checked. */
const text = (min: number, max: number, tooShort?: string) => z.string().check(z.trim(), z.minLength(min, tooShort), z.maxLength(max));
const priority = () => z.int().check(z.gte(1), z.lte(1000));

/** For a route whose path has no parameters. */
export const NoParams = z.strictObject({});
/** For a route that reads no body (whatever is sent is ignored). */
export const NoBody = z.undefined();

export const ListingParams = z.strictObject({ listingId: uuid('listingId') });
export const ConversationParams = z.strictObject({ conversationId: uuid('conversationId') });
export const SellerParams = z.strictObject({ sellerId: uuid('sellerId') });

export const RemoveMemberBody = z.strictObject({
  reason: text(1, 500, 'reason is required'),
});

export const ReactivateMemberBody = z.strictObject({
  restoreListings: z._default(z.boolean(), false),
  reason: z.optional(text(1, 500)),
});

export const MessageHandlersBody = z.strictObject({
  handlers: z
    .array(
      z.strictObject({
        sellerId: uuid('sellerId'),
        priority: z.optional(priority()),
        active: z.optional(z.boolean()),
      }),
    )
    .check(z.minLength(1), z.maxLength(50)),
});

export const SendMessageBody = z.strictObject({
  listingId: uuid('listingId'),
  body: text(1, 5000, 'body must not be empty'),
});
