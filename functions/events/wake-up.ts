/**
 * Waking the event relay right after an API write that may have written events (README: Events).
 *
 * The route table marks the routes whose successful answer means membership or ownership changed
 * (`writesEvents`). On such an answer the handler's one 'request handled' log line carries
 * `EVENTS_PENDING_LOG_FIELD: true`, and nothing else happens in the request: in AWS a CloudWatch
 * Logs subscription filter on that route's log group, matching the field, invokes the relay
 * (infra/constructs/event-relay.ts); `npm start` runs its in-process relay instead
 * (functions/local/local-relay.ts). Not an Invoke from the handler: that would be a second AWS call
 * in the request, an HTTPS round trip of 10–30 ms against the one-call-per-request bar (README: Performance) (and work after
 * the response is frozen with the Lambda environment).
 */
import type { RouteDefinition } from '../http/routes';

/** The field of the 'request handled' log line the relay's subscription filters match (`true` or absent). */
export const EVENTS_PENDING_LOG_FIELD = 'eventsMayBePending';

/** Whether this answer of `route` may have written events for the relay to publish: a 2xx of a route marked `writesEvents`. */
export function wakesEventRelay(route: Pick<RouteDefinition, 'writesEvents'>, status: number | undefined): boolean {
  return route.writesEvents === true && status !== undefined && status >= 200 && status < 300;
}
