import type { ModelSpec } from '@corral/worker-protocol';
import type { WorkerLink } from '@corral/dispatch';
import type { ClusterPool } from './cluster-pool';
import { Pins } from './pins';
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

function setup(statuses: WorkerStatus[], policy: 'binpack' | 'spread' = 'binpack', pins?: Pins) {
  const byId = new Map(statuses.map((s) => [s.id, s]));
  const pool = { status: (id: string) => byId.get(id) } as unknown as ClusterPool;
  const links = statuses.map((s) => ({ id: s.id }) as WorkerLink);
  return { placement: new ClusterPlacement(pool, policy, pins), links };
}

const spec = (key: string, name = key) => ({ key, name }) as ModelSpec;

describe('ClusterPlacement', () => {
  it('binpack: the fullest worker that still fits comes first; workers without room come last', () => {
    const { placement, links } = setup([status('a', 100, 10), status('b', 100, 60), status('c', 100, 95)]);
    const order = placement.candidates(spec('m'), 30 * MiB, links).map((w) => w.id);
    expect(order).toEqual(['b', 'a', 'c']);
  });

  it("prefers a worker that already holds the model's blob over the policy's choice", () => {
    const hex = 'ab'.repeat(32);
    const withBlob = { ...status('a', 100, 10), blobs: [`sha256:${hex}`] };
    const without = { ...status('b', 100, 60), blobs: [] };
    const { placement, links } = setup([withBlob, without]);
    const m = {
      key: 'm',
      name: 'm',
      path: `/models/blobs/sha256-${hex}`,
      adapters: [],
    } as unknown as ModelSpec;
    expect(placement.candidates(m, 30 * MiB, links).map((w) => w.id)).toEqual(['a', 'b']);
    // A worker reading a shared directory announces no blobs: the policy decides (binpack → b).
    const shared = setup([status('a', 100, 10), status('b', 100, 60)]);
    expect(shared.placement.candidates(m, 30 * MiB, shared.links).map((w) => w.id)).toEqual(['b', 'a']);
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

  it('a model pinned to workers is placed only on them, even where another would fit better', () => {
    const pins = new Pins([{ model: 'big', workers: ['c', 'a'], loaded: false }]);
    const { placement, links } = setup(
      [status('a', 100, 10), status('b', 100, 60), status('c', 100, 95)],
      'binpack',
      pins,
    );
    // Name spelled differently from the pin (tag, namespace): still the same model.
    expect(placement.candidates(spec('k1', 'library/big:latest'), 30 * MiB, links).map((w) => w.id)).toEqual([
      'a',
      'c',
    ]);
    // Other models go anywhere.
    expect(placement.candidates(spec('k2', 'small:latest'), 30 * MiB, links).map((w) => w.id)).toEqual([
      'b',
      'a',
      'c',
    ]);
  });

  it('a model pinned to workers none of which is running is refused with their names', () => {
    const pins = new Pins([{ model: 'big', workers: ['gpu-9'], loaded: true }]);
    const { placement, links } = setup([status('a', 100, 10)], 'binpack', pins);
    expect(() => placement.candidates(spec('k', 'big:latest'), MiB, links)).toThrow(
      "model 'big:latest' is pinned to worker gpu-9 (CORRAL_PIN), and none of them is running",
    );
  });
});

describe('Pins', () => {
  it('matches names as the registry does (default tag and namespace, any case)', () => {
    const pins = new Pins([
      { model: 'Llama3', loaded: true },
      { model: 'team/qwen:7b', workers: ['x'], loaded: false },
    ]);
    expect(pins.isLoadedPin('llama3:latest')).toBe(true);
    expect(pins.isLoadedPin('team/qwen:7b')).toBe(false);
    expect(pins.isLoadedPin('llama3:8b')).toBe(false);
    expect(pins.workersFor('team/qwen:7b')).toEqual(['x']);
    expect(pins.workersFor('qwen:7b')).toBeUndefined();
    expect(pins.loaded().map((p) => p.model)).toEqual(['Llama3']);
  });
});
