import type { z } from 'zod';
import { apiRoutes } from '../domain/api-routes';
import type { ReactivationSummary } from '../domain/company-members';
import { routeHandler } from '../http/handler-kit';
import type { ReactivateMemberBody, SellerParams } from '../http/schemas';

export const handler = routeHandler<z.infer<typeof SellerParams>, z.infer<typeof ReactivateMemberBody>, ReactivationSummary>(
  'reactivateMember',
  ({ params, body, who, db }) => apiRoutes.reactivateMember(db, who, params.sellerId, body.restoreListings, body.reason),
  (summary) => ({ ListingsRestored: summary.listingsRestored, ConversationsMoved: summary.conversationsRestored }),
);
