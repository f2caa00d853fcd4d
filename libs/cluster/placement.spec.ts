import type { ModelSpec, WorkerLink } from '@corral/dispatch';
import type { ClusterPool } from './cluster-pool';
import { ClusterPlacement } from './placement';
import type { WorkerStatus } from './status';

const MiB = 1024 * 1024;

function status(id: string, memoryMiB: number, usedMiB: number, keys: string[] = []): WorkerStatus {
  return {
    id,
    host: 'h',
    at: Date.now(),
    startedAt: Date.now(),
    info: {
      pid: 1,
      backend: 'cpu',
      gpus: [],
      ramTotalBytes: 0,
      ramFreeBytes: 0,
      threads: 1,
      cpuCores: 1,
    },
    memoryBytes: memoryMiB * MiB,
    usedBytes: usedMiB * MiB,
    models: keys.map((key) => ({
      key,
      name: key,
      sizeBytes: 0,
      vramBytes: 0,
      numCtx: 1,
      numParallel: 1,
      active: 0,
      holders: [],
    })),
    jobs: 0,
  };
}

function setup(statuses: WorkerStatus[], policy: 'binpack' | 'spread' = 'binpack') {
  const byId = new Map(statuses.map((s) => [s.id, s]));
  const pool = { status: (id: string) => byId.get(id) } as unknown as ClusterPool;
  const links = statuses.map((s) => ({ id: s.id }) as WorkerLink);
  return { placement: new ClusterPlacement(pool, policy), links };
}

const spec = (key: string) => ({ key }) as ModelSpec;

describe('ClusterPlacement', () => {
  it('binpack: the fullest worker that still fits comes first; workers without room come last', () => {
    const { placement, links } = setup([status('a', 100, 10), status('b', 100, 60), status('c', 100, 95)]);
    const order = placement.candidates(spec('m'), 30 * MiB, links).map((w) => w.id);
    expect(order).toEqual(['b', 'a', 'c']);
  });

  it('spread: the emptiest worker comes first', () => {
    const { placement, links } = setup([status('a', 100, 10), status('b', 100, 60)], 'spread');
    expect(placement.candidates(spec('m'), 30 * MiB, links).map((w) => w.id)).toEqual(['a', 'b']);
  });

  it('a worker that already holds the instance wins, whatever its free memory', () => {
    const { placement, links } = setup([status('a', 100, 0), status('b', 100, 99, ['m'])]);
    expect(placement.candidates(spec('m'), 30 * MiB, links)[0]!.id).toBe('b');
  });

  it('counts its own placement until the heartbeat shows it', () => {
    const { placement, links } = setup([status('a', 100, 0), status('b', 100, 50)]);
    expect(placement.candidates(spec('m1'), 40 * MiB, links)[0]!.id).toBe('b');
    // b now has 10 MiB left as far as this gateway knows: the next 40 MiB model goes to a.
    expect(placement.candidates(spec('m2'), 40 * MiB, links)[0]!.id).toBe('a');
  });
});
