/**
 * The handlers' types come from the route table (checked by `npm run typecheck`; nothing here
 * runs a handler): `routeHandler(id, ...)` gets the route's params, body and result types from its
 * schemas, and a handler that reads a field its route does not have, or answers another shape,
 * does not compile.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { Identity } from '../../functions/domain/api-routes';
import { routeHandler, type HandlerInput } from '../../functions/http/handler-kit';
import type { RouteOf, RouteResult } from '../../functions/http/routes';

describe('route types flow from the route table', () => {
  it('params, body, caller and result of a route', () => {
    type Remove = HandlerInput<RouteOf<'removeMember'>>;
    expectTypeOf<Remove['params']>().toEqualTypeOf<{ sellerId: string }>();
    expectTypeOf<Remove['body']>().toEqualTypeOf<{ reason: string }>();
    expectTypeOf<Remove['who']>().toEqualTypeOf<Identity>();
    expectTypeOf<HandlerInput<RouteOf<'reactivateMember'>>['body']>().toEqualTypeOf<{ restoreListings: boolean; reason?: string | undefined }>();
    expectTypeOf<HandlerInput<RouteOf<'getCompanyStats'>>['body']>().toEqualTypeOf<undefined>();
    // Ids as the marketplace has them: a string for uuid ids, a number for integer and bigint ones.
    expectTypeOf<RouteResult<'removeMember'>>().toEqualTypeOf<{
      sellerId: string | number;
      companyId: string | number;
      status: 'removed';
      listingsMoved: number;
      conversationsMoved: number;
      movedTo: { id: string | number; name: string } | null;
    }>();
  });

  it('a handler that misreads its route does not compile', () => {
    const never = async (): Promise<never> => {
      throw new Error('not called');
    };
    // Type-checked, never called (a handler validates the environment when it is built).
    const misuses = () => {
      // @ts-expect-error removeMember has no listingId parameter
      routeHandler('removeMember', ({ params }) => never().then(() => params.listingId));
      // @ts-expect-error sendMessage answers a stored message, not a removal summary
      routeHandler('sendMessage', async () => ({ sellerId: 'x', companyId: 'y', status: 'removed' as const, listingsMoved: 0, conversationsMoved: 0, movedTo: null }));
      // @ts-expect-error the metrics see the route's result: a removal has no listingsRestored
      routeHandler('removeMember', never, (summary) => ({ ListingsRestored: summary.listingsRestored }));
    };
    expectTypeOf(misuses).toBeFunction();
  });
});
