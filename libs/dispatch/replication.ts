/**
 * Cluster mode: when a whole instance's worth of requests (num_parallel) waits for a model whose
 * instances are all busy, a second instance is loaded on another worker where it fits without
 * evicting anything; once loaded it takes over waiting requests. At most one load at a time per
 * model; after a try that found no room, none for REPLICA_BACKOFF_MS.
 */
import { Logger } from '@nestjs/common';
import type { Instances } from './instances';
import type { ModelSpec } from '@corral/worker-protocol';
import type { Placement, RunTarget } from './scheduler';
import type { WorkerSource } from './worker-pool';

/** After a second instance could not be placed, wait this long before trying again. */
const REPLICA_BACKOFF_MS = 30_000;

export class Replication {
  private readonly logger = new Logger('Scheduler');
  /** Per spec key: no second instance is tried before this time (the last try found no room). */
  private readonly replicaBackoff = new Map<string, number>();
  /** Spec keys whose second instance is being placed or loaded. */
  private readonly replicating = new Set<string>();

  constructor(
    private readonly pool: WorkerSource,
    private readonly instances: Instances,
    private readonly placement: Placement | undefined,
  ) {}

  /** A request of this target started waiting: a second instance, if the rule above says so. */
  maybeReplicate(t: RunTarget, spec: ModelSpec): void {
    const placement = this.placement;
    if (!placement || this.replicating.has(spec.key)) return;
    const g = this.instances.group(spec.key);
    if (g.some((i) => !i.loaded)) return;
    const waiting = g.reduce((n, i) => n + i.waiters.length, 0);
    if (waiting < spec.numParallel || (this.replicaBackoff.get(spec.key) ?? 0) > Date.now()) return;
    const used = new Set(g.map((i) => i.worker.id));
    const others = this.pool.workers().filter((w) => !used.has(w.id));
    if (others.length === 0) return;
    const noRoom = (why: string) => {
      this.replicaBackoff.set(spec.key, Date.now() + REPLICA_BACKOFF_MS);
      this.logger.log(`no second instance of '${t.name}' (${waiting} waiting): ${why}`);
    };
    this.replicating.add(spec.key);
    void (async () => {
      try {
        const bytes = await placement.estimate(spec).catch(() => 0);
        const order = placement.candidates(spec, bytes, others, { fitting: true });
        if (order.length === 0) return noRoom('no other worker has room');
        this.logger.log(
          `'${t.name}' has ${waiting} requests waiting: loading a second instance on ${order[0]!.id}`,
        );
        const inst = this.instances.startInstance(t, spec, bytes, order);
        await inst.ready;
        // Take over waiting requests from the busy instances.
        for (const sibling of this.instances.group(spec.key)) {
          while (inst.active < spec.numParallel && sibling.waiters.length > 0) {
            inst.active++;
            sibling.waiters.shift()!.resolve(inst);
          }
        }
        if (inst.active === 0) this.instances.armExpiry(inst);
      } catch (e) {
        noRoom(e instanceof Error ? e.message : String(e));
      } finally {
        this.replicating.delete(spec.key);
      }
    })();
  }
}
