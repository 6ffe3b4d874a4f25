import type { z } from 'zod';
import { apiRoutes } from '../domain/api-routes';
import type { RemovalSummary } from '../domain/company-members';
import { routeHandler } from '../http/handler-kit';
import type { RemoveMemberBody, SellerParams } from '../http/schemas';

export const handler = routeHandler<z.infer<typeof SellerParams>, z.infer<typeof RemoveMemberBody>, RemovalSummary>(
  'removeMember',
  ({ params, body, who, db }) => apiRoutes.removeMember(db, who, params.sellerId, body.reason),
  (summary) => ({ ListingsMoved: summary.listingsMoved, ConversationsMoved: summary.conversationsMoved }),
);
