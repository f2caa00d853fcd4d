import { FairQueue, type FairShare } from './fair-queue';

/** Serves the queue with `slots` parallel sequences, each request taking `serviceMs`; returns when each item started. */
function simulate<T>(q: FairQueue<T>, slots: number, serviceMs: number): Map<T, number> {
  const started = new Map<T, number>();
  for (let t = 0; q.length; t += serviceMs)
    for (let s = 0; s < slots && q.length; s++) started.set(q.shift()!, t);
  return started;
}

describe('FairQueue', () => {
  it("serves another team's single request promptly behind one team's flood of 1,000", () => {
    const fair = new FairQueue<string>();
    const fifo: string[] = [];
    for (let i = 0; i < 1000; i++) {
      fair.push(`flood-${i}`, { team: 'A' });
      fifo.push(`flood-${i}`);
    }
    fair.push('single', { team: 'B' });
    fifo.push('single');
    const order: string[] = [];
    while (fair.length) order.push(fair.shift()!);
    expect(order.indexOf('single')).toBeLessThanOrEqual(1);
    expect(fifo.indexOf('single')).toBe(1000);
    // With 4 sequences at 2 s a request: B waits one round, not 250 rounds (8 minutes) behind A.
    for (let i = 0; i < 1000; i++) fair.push(`flood-${i}`, { team: 'A' });
    fair.push('single', { team: 'B' });
    expect(simulate(fair, 4, 2000).get('single')).toBe(0);
    expect(order.filter((x) => x.startsWith('flood')).map((x) => Number(x.slice(6)))).toEqual(
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });

  it('still serves a late arrival promptly after the flood has been draining for a while', () => {
    const q = new FairQueue<string>();
    for (let i = 0; i < 1000; i++) q.push(`a${i}`, { team: 'A' });
    for (let i = 0; i < 600; i++) q.shift();
    q.push('late', { team: 'B' });
    expect([q.shift(), q.shift()]).toContain('late');
  });

  it('splits service by weight while every team is backlogged', () => {
    const q = new FairQueue<string>();
    const teams: FairShare[] = [
      { team: 'big', weight: 3 },
      { team: 'small', weight: 1 },
      { team: 'mid', weight: 2 },
    ];
    for (let i = 0; i < 600; i++) for (const s of teams) q.push(`${s.team}-${i}`, s);
    const served: Record<string, number> = { big: 0, small: 0, mid: 0 };
    for (let i = 0; i < 600; i++) served[q.shift()!.split('-')[0]!]! += 1;
    expect(served).toEqual({ big: 300, mid: 200, small: 100 });
  });

  it('gives no saved-up credit to a team that was idle', () => {
    const q = new FairQueue<string>();
    q.push('b0', { team: 'B' });
    for (let i = 0; i < 100; i++) q.push(`a${i}`, { team: 'A' });
    for (let i = 0; i < 60; i++) q.shift();
    // B was served once long ago; now it floods too. Service alternates instead of B catching up.
    for (let i = 1; i <= 20; i++) q.push(`b${i}`, { team: 'B' });
    const next = Array.from({ length: 10 }, () => q.shift()![0]).join('');
    expect(next).toMatch(/^(ab|ba){5}$/);
  });

  it('serves interactive keys of a team before its batch keys, FIFO within each', () => {
    const q = new FairQueue<string>();
    for (let i = 0; i < 50; i++) q.push(`batch-${i}`, { team: 'A', priority: 'batch' });
    q.push('chat-0', { team: 'A', priority: 'interactive' });
    q.push('chat-1', { team: 'A' });
    expect([q.shift(), q.shift(), q.shift(), q.shift()]).toEqual(['chat-0', 'chat-1', 'batch-0', 'batch-1']);
  });

  it('behaves like the array it replaces for cancellation and worker loss', () => {
    const q = new FairQueue<{ id: number }>();
    const items = Array.from({ length: 6 }, (_, id) => ({ id }));
    items.forEach((it, i) => q.push(it, { team: i % 2 ? 'odd' : 'even' }));
    expect(q.length).toBe(6);
    // Cancelling a waiter: indexOf + splice(i, 1), as the scheduler does.
    const i = q.indexOf(items[2]!);
    expect(i).toBe(2);
    expect(q.splice(i, 1)).toEqual([items[2]]);
    expect(q.indexOf(items[2]!)).toBe(-1);
    expect(q.shift()).toBe(items[0]);
    expect(q.shift()).toBe(items[1]);
    expect(q.shift()).toBe(items[4]);
    // A worker died: splice(0) hands back everyone still waiting.
    expect(q.splice(0)).toEqual([items[3], items[5]]);
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
  });

  it('keeps one FIFO when no request carries a share (the scheduler before identity lands)', () => {
    const q = new FairQueue<number>();
    for (let i = 0; i < 10; i++) q.push(i);
    expect(Array.from({ length: 10 }, () => q.shift())).toEqual([...Array(10).keys()]);
  });
});
