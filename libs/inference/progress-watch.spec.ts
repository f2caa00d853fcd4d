import { ProgressWatch } from './progress-watch';

/** A watch on a hand-driven clock: `at(ms)` moves the clock and runs the check, as the timer would. */
function watch(timeoutMs: number) {
  let now = 0;
  const stalls: [string, number][] = [];
  const w = new ProgressWatch({
    timeoutMs,
    onStall: (id, ms) => stalls.push([id, ms]),
    now: () => now,
    every: () => () => undefined,
  });
  const at = (ms: number): void => {
    now = ms;
    w.check();
  };
  return { w, at, stalls };
}

describe('ProgressWatch (per-job progress watchdog)', () => {
  it('fails an armed job with no progress for longer than the timeout, once', () => {
    const { w, at, stalls } = watch(4000);
    w.begin('a').arm();
    for (let t = 1000; t <= 4000; t += 1000) at(t);
    expect(stalls).toEqual([]);
    at(5000);
    expect(stalls).toEqual([['a', 5000]]);
    at(6000);
    expect(stalls).toHaveLength(1);
  });

  it('a job that ticks is never failed, however long it runs', () => {
    const { w, at, stalls } = watch(4000);
    const p = w.begin('a');
    p.arm();
    for (let t = 1000; t <= 60_000; t += 1000) {
      p.tick();
      at(t);
    }
    expect(stalls).toEqual([]);
    // Silence counts from the last check that saw a tick.
    for (let t = 61_000; t <= 64_000; t += 1000) at(t);
    expect(stalls).toEqual([]);
    at(65_000);
    expect(stalls).toEqual([['a', 5000]]);
  });

  it('does not judge a job that is not computing (waiting for a sequence or a load)', () => {
    const { w, at, stalls } = watch(4000);
    const p = w.begin('a');
    for (let t = 1000; t <= 60_000; t += 1000) at(t);
    expect(stalls).toEqual([]);
    p.arm();
    for (let t = 61_000; t <= 63_000; t += 1000) at(t);
    p.disarm();
    for (let t = 64_000; t <= 120_000; t += 1000) at(t);
    expect(stalls).toEqual([]);
    // Armed again: the count starts over from the arm.
    p.arm();
    for (let t = 121_000; t <= 124_000; t += 1000) at(t);
    expect(stalls).toEqual([]);
    at(125_000);
    expect(stalls).toEqual([['a', 5000]]);
  });

  it('judges each job on its own and forgets ended ones', () => {
    const { w, at, stalls } = watch(4000);
    const a = w.begin('a');
    const b = w.begin('b');
    a.arm();
    b.arm();
    w.begin('c').arm();
    w.end('c');
    for (let t = 1000; t <= 5000; t += 1000) {
      a.tick();
      at(t);
    }
    expect(stalls).toEqual([['b', 5000]]);
  });

  it('starts the count over after a check that came late (this thread was not running)', () => {
    const { w, at, stalls } = watch(4000);
    w.begin('a').arm();
    at(1000);
    // A 10 s gap between checks: ticks could not have been counted either.
    at(11_000);
    expect(stalls).toEqual([]);
    at(12_000);
    at(15_000);
    expect(stalls).toEqual([]);
    at(16_000);
    expect(stalls).toEqual([['a', 5000]]);
  });

  it('checks on a quarter of the timeout, at most every second, and stops', () => {
    const periods: number[] = [];
    let stopped = false;
    const every = (ms: number) => {
      periods.push(ms);
      return () => (stopped = true);
    };
    new ProgressWatch({ timeoutMs: 120_000, onStall: () => undefined, every });
    const w = new ProgressWatch({ timeoutMs: 2000, onStall: () => undefined, every });
    expect(periods).toEqual([1000, 500]);
    w.stop();
    expect(stopped).toBe(true);
  });
});
