/**
 * The API's request schemas, validated by the handlers (the success bodies: response-schemas.ts).
 * The handlers' types and the OpenAPI document (`npm run openapi`) come from here.
 *
 * zod/mini with its English messages only: every API bundle builds these schemas on a cold start,
 * and mini's schemas are plain objects where classic zod's carry their methods, which made up most
 * of a handler's own load time (bench step g). Same checks, same messages, same JSON Schema.
 *
 * Ids are taken in the marketplace's own form (EMS_ID_TYPE, README: Id types): a UUID, or a
 * positive integer up to the type's limit. A handler builds its route's schemas once, for the id
 * type it loads with (`requestSchemas(config().EMS_ID_TYPE)`); the route table names them.
 */
import * as z from 'zod/mini';
import { en } from 'zod/v4/locales';
import type { IdType } from '../shared/config';

// What classic zod does on load; mini leaves it to the application (without it: "Invalid input").
z.config(en());

/**
 * The largest integer or bigint id the API takes: PostgreSQL's integer maximum, and for bigint
 * 2^53 − 1, the largest integer a JSON number keeps exactly in JavaScript (a larger bigint id is
 * not taken: it would come back as another number).
 */
export const MAX_ID = { integer: 2_147_483_647, bigint: Number.MAX_SAFE_INTEGER } as const;
/** How an integer or bigint id is written in a path: a positive decimal without leading zeros. */
export const ID_DIGITS = /^[1-9][0-9]*$/;

/** An id in the configured form, as a path parameter (text) and in a JSON body; both hand the domain a string. */
interface IdSchemas {
  readonly path: (what: string) => z.ZodMiniType<string, unknown>;
  readonly body: (what: string) => z.ZodMiniType<string, unknown>;
}

function idSchemas(idType: IdType): IdSchemas {
  if (idType === 'uuid') {
    const uuid = (what: string) => z.uuid({ message: `${what} must be a UUID` });
    return { path: uuid, body: uuid };
  }
  const max = MAX_ID[idType];
  const message = (what: string) => `${what} must be a positive integer (at most ${max})`;
  const digits = (what: string) =>
    z.string().check(
      z.regex(ID_DIGITS, { message: message(what), abort: true }),
      z.maxLength(String(max).length, { message: message(what), abort: true }),
      z.refine((text) => Number(text) <= max, message(what)),
    );
  return {
    path: digits,
    // A JSON integer or the same digits as a string.
    body: (what) =>
      z.pipe(
        z.union([z.int().check(z.gte(1, message(what)), z.lte(max, message(what))), digits(what)], { message: message(what) }),
        z.transform((id: string | number) => String(id)),
      ),
  };
}

/** A string trimmed before its length is checked. */
const text = (min: number, max: number, tooShort?: string) => z.string().check(z.trim(), z.minLength(min, tooShort), z.maxLength(max));
const priority = () => z.int().check(z.gte(1), z.lte(1000));

/** For a route whose path has no parameters. */
const NoParams = z.strictObject({});
/** For a route that reads no body (whatever is sent is ignored). */
const NoBody = z.undefined();

/**
 * The request schemas for ids of `idType`, by the name the route table uses. Each is built when it
 * is read (a getter): a handler reads only its route's two as it loads, since building them all
 * cost every cold start the others' construction (bench step g); the OpenAPI document reads all.
 */
export function requestSchemas(idType: IdType) {
  const id = idSchemas(idType);
  return {
    get NoParams() {
      return NoParams;
    },
    get NoBody() {
      return NoBody;
    },
    get ListingParams() {
      return z.strictObject({ listingId: id.path('listingId') });
    },
    get ConversationParams() {
      return z.strictObject({ conversationId: id.path('conversationId') });
    },
    get SellerParams() {
      return z.strictObject({ sellerId: id.path('sellerId') });
    },
    get RemoveMemberBody() {
      return z.strictObject({
        reason: text(1, 500, 'reason is required'),
      });
    },
    get ReactivateMemberBody() {
      return z.strictObject({
        restoreListings: z._default(z.boolean(), false),
        reason: z.optional(text(1, 500)),
      });
    },
    get MessageHandlersBody() {
      return z.strictObject({
        handlers: z
          .array(
            z.strictObject({
              sellerId: id.body('sellerId'),
              priority: z.optional(priority()),
              active: z.optional(z.boolean()),
            }),
          )
          .check(z.minLength(1), z.maxLength(50)),
      });
    },
    get SendMessageBody() {
      return z.strictObject({
        listingId: id.body('listingId'),
        body: text(1, 5000, 'body must not be empty'),
      });
    },
  };
}

/** Every request schema, by the name the route table uses. */
export type RequestSchemas = ReturnType<typeof requestSchemas>;
export type RequestSchemaName = keyof RequestSchemas;
