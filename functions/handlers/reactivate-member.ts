import type { z } from 'zod';
import { adminCompanyId } from '../domain/callers';
import { reactivateMember, type ReactivationSummary } from '../domain/company-members';
import { routeHandler } from '../http/handler-kit';
import type { ReactivateMemberBody, SellerParams } from '../http/schemas';

export const handler = routeHandler<z.infer<typeof SellerParams>, z.infer<typeof ReactivateMemberBody>, ReactivationSummary>(
  'reactivateMember',
  ({ params, body, caller, db }) =>
    reactivateMember(db, {
      companyId: adminCompanyId(caller!),
      sellerId: params.sellerId,
      actor: caller!.id,
      restoreListings: body.restoreListings,
      reason: body.reason,
    }),
  (summary) => ({ ListingsRestored: summary.listingsRestored, ConversationsMoved: summary.conversationsRestored }),
);
