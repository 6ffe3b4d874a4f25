/**
 * `npm start`'s relay runs (functions/local/local-relay.ts) one at a time: wake-ups during a run
 * make exactly one more run after it, none is lost, none overlaps.
 */
import { describe, expect, it, vi } from 'vitest';
import { oneAtATime } from '../../functions/local/local-relay';

/** A run that waits until the test lets it end, counting runs and how many were in progress at once. */
function gatedRuns() {
  const gates: (() => void)[] = [];
  const state = { runs: 0, inProgress: 0, mostAtOnce: 0 };
  const run = async () => {
    state.runs += 1;
    state.inProgress += 1;
    state.mostAtOnce = Math.max(state.mostAtOnce, state.inProgress);
    await new Promise<void>((resolve) => gates.push(resolve));
    state.inProgress -= 1;
  };
  const finishRun = () => {
    const gate = gates.shift();
    if (!gate) throw new Error('no run in progress');
    gate();
  };
  return { run, state, finishRun };
}

describe('oneAtATime', () => {
  it('runs at once when idle; wake-ups during a run make one more run after it, not one each', async () => {
    const { run, state, finishRun } = gatedRuns();
    const relay = oneAtATime(run);
    relay.wake();
    expect(state.runs).toBe(1);
    relay.wake();
    relay.wake();
    relay.wake();
    expect(state.runs).toBe(1);
    finishRun();
    await vi.waitFor(() => expect(state.runs).toBe(2));
    finishRun();
    await relay.idle();
    expect(state).toEqual({ runs: 2, inProgress: 0, mostAtOnce: 1 });

    // Idle again: the next wake-up runs at once.
    relay.wake();
    expect(state.runs).toBe(3);
    finishRun();
    await relay.idle();
    expect(state.runs).toBe(3);
  });

  it('a wake-up during the extra run asks for another (the write it follows may have committed after that run read)', async () => {
    const { run, state, finishRun } = gatedRuns();
    const relay = oneAtATime(run);
    relay.wake();
    relay.wake();
    finishRun();
    await vi.waitFor(() => expect(state.runs).toBe(2));
    relay.wake();
    finishRun();
    await vi.waitFor(() => expect(state.runs).toBe(3));
    finishRun();
    await relay.idle();
    expect(state).toEqual({ runs: 3, inProgress: 0, mostAtOnce: 1 });
  });
});
