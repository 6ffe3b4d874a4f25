/**
 * Where the relay publishes: the stack's EventBridge bus (AWS), or the console (`npm start`).
 */
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE, type Publisher } from './relay';

/** PutEvents on `busName`; an entry the service refused comes back with its error code and message. */
export function eventBridgePublisher(client: EventBridgeClient, busName: string): Publisher {
  return async (entries) => {
    const { PutEventsCommand } = await import('@aws-sdk/client-eventbridge');
    const answer = await client.send(
      new PutEventsCommand({
        Entries: entries.map((entry) => ({
          EventBusName: busName,
          Source: EVENT_SOURCE,
          DetailType: entry.detailType,
          Detail: entry.detail,
          Time: entry.time,
        })),
      }),
    );
    const results = answer.Entries ?? [];
    return entries.map((_, i) => {
      const result = results[i];
      if (result?.EventId) return undefined;
      return `${result?.ErrorCode ?? 'NoEventId'}: ${result?.ErrorMessage ?? 'PutEvents returned no event id for this entry'}`;
    });
  };
}

/** Prints each event on one line (the local server's stand-in for the bus). */
export function consolePublisher(print: (line: string) => void = (line) => console.log(line)): Publisher {
  return async (entries) => {
    for (const entry of entries) {
      const detail = JSON.parse(entry.detail) as Record<string, unknown>;
      const ids = (detail.listingIds ?? detail.conversationIds) as unknown[] | undefined;
      const what = ids ? ` ${detail.count} (page ${detail.page}/${detail.pages}) from ${detail.fromSellerId} to ${detail.toSellerId}` : ` seller ${detail.sellerId}`;
      print(`event ${detail.outboxId} ${entry.detailType}${what} company ${detail.companyId ?? 'none'} by ${detail.actor}`);
    }
    return entries.map(() => undefined);
  };
}
