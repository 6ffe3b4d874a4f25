import type { z } from 'zod';
import { apiRoutes } from '../domain/api-routes';
import { routeHandler } from '../http/handler-kit';
import type { ListingParams } from '../http/schemas';

export const handler = routeHandler<z.infer<typeof ListingParams>, undefined, unknown>('getListingRecipient', ({ params, who, db }) =>
  apiRoutes.getListingRecipient(db, who, params.listingId),
);
