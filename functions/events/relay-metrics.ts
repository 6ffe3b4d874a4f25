/** The relay's EMF metric names, read by the relay Lambda and by the stack's alarms and dashboard. */
export const EVENTS_PUBLISHED_METRIC = 'EventsPublished';
export const EVENTS_FAILED_METRIC = 'EventsPublishFailed';
/** Events in the outbox that will not be retried (a gauge: the total, every run). */
export const DEAD_LETTERED_EVENTS_METRIC = 'DeadLetteredEvents';
/** Age in seconds of the oldest event still to publish (0: none). */
export const OLDEST_PENDING_EVENT_METRIC = 'OldestPendingEventAge';
