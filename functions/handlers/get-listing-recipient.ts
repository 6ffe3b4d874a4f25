import { getRecipientFor } from '../domain/messaging';
import { routeHandler } from '../http/handler-kit';
import type { z } from 'zod';
import type { ListingParams } from '../http/schemas';

export const handler = routeHandler<z.infer<typeof ListingParams>, undefined, unknown>('getListingRecipient', ({ params, caller, db }) =>
  getRecipientFor(db, caller!, params.listingId),
);
