import { StallWatch } from './stall-watch';

/** A watch on a hand-driven clock: `advance` moves time and runs the periodic check. */
function watched(timeoutMs: number) {
  let t = 1_000_000;
  let tick: (() => void) | undefined;
  let stopped = false;
  const stalls: number[] = [];
  const watch = new StallWatch({
    timeoutMs,
    onStall: (ms) => stalls.push(ms),
    now: () => t,
    every: (_ms, fn) => {
      tick = fn;
      return () => {
        stopped = true;
      };
    },
  });
  const advance = (ms: number, step = 250) => {
    for (let done = 0; done < ms; done += step) {
      t += Math.min(step, ms - done);
      tick?.();
    }
  };
  return { watch, stalls, advance, stopped: () => stopped };
}

describe('StallWatch', () => {
  it('fires once when nothing is heard for longer than the timeout', () => {
    const w = watched(1000);
    w.advance(900);
    expect(w.stalls).toEqual([]);
    w.advance(300);
    expect(w.stalls).toHaveLength(1);
    expect(w.stalls[0]).toBeGreaterThan(1000);
    w.advance(5000);
    expect(w.stalls).toHaveLength(1);
    expect(w.stopped()).toBe(true);
  });

  it('never fires while the worker keeps talking, however long a job takes', () => {
    const w = watched(1000);
    for (let i = 0; i < 100; i++) {
      w.advance(500);
      w.watch.heard();
    }
    expect(w.stalls).toEqual([]);
  });

  it('does not judge after the gateway itself stalled (its checks came late)', () => {
    const w = watched(1000);
    // One check 5 s late: the worker's messages may be queued unread, so the count starts over.
    w.advance(5000, 5000);
    expect(w.stalls).toEqual([]);
    w.advance(1250);
    expect(w.stalls).toHaveLength(1);
  });

  it('does nothing once stopped (the worker exited)', () => {
    const w = watched(1000);
    w.watch.stop();
    w.advance(5000);
    expect(w.stalls).toEqual([]);
  });
});
