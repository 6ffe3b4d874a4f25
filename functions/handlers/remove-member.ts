import type { z } from 'zod';
import { adminCompanyId } from '../domain/callers';
import { removeMember, type RemovalSummary } from '../domain/company-members';
import { routeHandler } from '../http/handler-kit';
import type { RemoveMemberBody, SellerParams } from '../http/schemas';

export const handler = routeHandler<z.infer<typeof SellerParams>, z.infer<typeof RemoveMemberBody>, RemovalSummary>(
  'removeMember',
  ({ params, body, caller, db }) =>
    removeMember(db, { companyId: adminCompanyId(caller!), sellerId: params.sellerId, actor: caller!.id, reason: body.reason }),
  (summary) => ({ ListingsMoved: summary.listingsMoved, ConversationsMoved: summary.conversationsMoved }),
);
