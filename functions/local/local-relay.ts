/**
 * `npm start`'s event relay, in-process: every `intervalMs` (its schedule) and right after an API
 * answer that may have written events (`wake()`, which the local server calls where AWS's log
 * subscription would invoke the relay: functions/events/wake-up.ts). The answer never waits for it.
 */
import type { Database } from '../database/port';
import { relayOutbox, type Publisher } from '../events/relay';

export interface LocalRelay {
  /** Runs the relay now, or, if a run is in progress, once more after it. */
  wake(): void;
  /** Settles when no run is in progress or asked for. */
  idle(): Promise<void>;
  /** Stops the schedule and waits for the run in progress (the database stays open: the caller's). */
  stop(): Promise<void>;
}

/**
 * `run` (which reports its own errors) one at a time: a wake-up during a run asks for exactly one more run after it, however many
 * come meanwhile (that run sees whatever they committed), so none is lost and none piles up.
 */
export function oneAtATime(run: () => Promise<void>): Pick<LocalRelay, 'wake' | 'idle'> {
  let current: Promise<void> | undefined;
  let again = false;
  const loop = async () => {
    try {
      do {
        again = false;
        await run();
      } while (again);
    } finally {
      // Cleared in the same step as the last check: a wake-up from now on starts a new loop.
      current = undefined;
    }
  };
  return {
    wake() {
      if (current) again = true;
      else current = loop();
    },
    idle: async () => {
      while (current) await current;
    },
  };
}

export function startLocalRelay(options: {
  db: Database;
  publish: Publisher;
  intervalMs?: number;
  onError?: (error: Error) => void;
}): LocalRelay {
  const onError = options.onError ?? ((error: Error) => console.error(`event relay: ${error.message}`));
  const relay = oneAtATime(() => relayOutbox(options.db, options.publish).then(() => undefined, onError));
  const timer = setInterval(() => relay.wake(), options.intervalMs ?? 2000);
  return {
    ...relay,
    stop: async () => {
      clearInterval(timer);
      await relay.idle();
    },
  };
}
