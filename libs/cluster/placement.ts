/**
 * Where a model instance is loaded in the cluster. A worker that already holds the instance (another
 * gateway loaded it) comes first, so gateways share instances instead of each loading its own copy.
 * Otherwise the workers with room for the estimated footprint are ordered: those that already hold
 * the model's blobs in their own directory first (no transfer from a gateway), then by policy:
 * binpack (the fullest worker that still fits, keeping whole workers free for big models) or spread
 * (the emptiest first, spreading load). Workers without room come last: the scheduler may evict its idle models
 * there, and the worker itself refuses a load that would over-commit it. A model pinned to given
 * workers (CORRAL_PIN `model@id,...`) is placed only on those.
 */
import { CorralError } from '@corral/common';
import type { ModelSpec } from '@corral/worker-protocol';
import type { Placement, WorkerLink } from '@corral/dispatch';
import { estimateFootprint } from './estimate';
import type { ClusterPool } from './cluster-pool';
import type { Pins } from './pins';
import { digestOfPath } from './worker/blob-source';
import { freeBytes, type WorkerStatus } from './status';

export type PlacementPolicy = 'binpack' | 'spread';

/** How long this gateway counts its own fresh placement before the worker's heartbeat shows it. */
const PENDING_MS = 15_000;

export class ClusterPlacement implements Placement {
  /** Loads this gateway just placed, per worker: heartbeats lag them by up to a beat. */
  private readonly pending = new Map<string, { key: string; bytes: number; at: number }[]>();

  constructor(
    private readonly pool: ClusterPool,
    readonly policy: PlacementPolicy = 'binpack',
    private readonly pins?: Pins,
  ) {}

  async estimate(spec: ModelSpec): Promise<number> {
    const fp = await estimateFootprint(
      spec.path,
      spec.numCtx,
      spec.numParallel,
      spec.adapters.map((a) => a.path),
    );
    return fp.totalBytes;
  }

  candidates(
    spec: ModelSpec,
    bytes: number,
    all: WorkerLink[],
    opts: { fitting?: boolean } = {},
  ): WorkerLink[] {
    const now = Date.now();
    const allowed = this.pins?.workersFor(spec.name);
    const workers = allowed ? all.filter((w) => allowed.includes(w.id)) : all;
    if (allowed && workers.length === 0)
      throw new CorralError(
        'unavailable',
        `model '${spec.name}' is pinned to worker${allowed.length > 1 ? 's' : ''} ${allowed.join(', ')} ` +
          `(CORRAL_PIN), and none of them is running`,
      );
    const scored = workers.flatMap((w) => {
      const s = this.pool.status(w.id);
      if (!s) return [];
      const mine = (this.pending.get(w.id) ?? []).filter(
        (p) => now - p.at < PENDING_MS && !s.models.some((m) => m.key === p.key),
      );
      this.pending.set(w.id, mine);
      return [{ w, s, free: freeBytes(s) - mine.reduce((n, p) => n + p.bytes, 0) }];
    });
    const holding = scored
      .filter(({ s }) => s.models.some((m) => m.key === spec.key))
      .sort((a, b) => load(a.s, spec.key) - load(b.s, spec.key));
    const rest = scored.filter((x) => !holding.includes(x));
    const fits = rest.filter((x) => x.free >= bytes);
    // Among workers with room, those that already hold the model's files come first (no transfer);
    // then binpack or spread.
    const needs = [spec.path, ...(spec.adapters ?? []).map((a) => a.path)].flatMap((p) =>
      p ? (digestOfPath(p) ?? []) : [],
    );
    const missing = (s: WorkerStatus) => (s.blobs ? needs.filter((d) => !s.blobs!.includes(d)).length : 0);
    fits.sort(
      (a, b) =>
        missing(a.s) - missing(b.s) || (this.policy === 'binpack' ? a.free - b.free : b.free - a.free),
    );
    const tight = rest.filter((x) => x.free < bytes).sort((a, b) => b.free - a.free);
    const order = [...holding, ...fits, ...(opts.fitting ? [] : tight)].map((x) => x.w);
    const first = order[0];
    if (first && !holding.some((x) => x.w === first)) {
      this.pending.get(first.id)?.push({ key: spec.key, bytes, at: now });
    }
    return order;
  }
}

function load(s: { models: { key: string; active: number; numParallel: number }[] }, key: string): number {
  const m = s.models.find((x) => x.key === key);
  return m ? m.active / m.numParallel : 0;
}
