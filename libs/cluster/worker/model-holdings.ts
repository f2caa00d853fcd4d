/**
 * What a cluster worker holds: the memory reserved per model instance, and the gateways holding each.
 * The worker is the source of truth for its memory: it refuses a load that would over-commit it, and
 * keeps a model loaded while any gateway holds it or a job runs on it.
 */
import type { FromWorker, LoadedModel, ModelSpec, ToWorker } from '@corral/worker-protocol';
import { estimateFootprint } from '../estimate';
import type { WorkerModel } from '../status';

export interface Held {
  spec: ModelSpec;
  bytes: number;
  holders: Set<string>;
  active: number;
}

/** The part of a running job the holdings settle when it ends. */
export interface HoldingJob {
  type: ToWorker['type'];
  key?: string;
}

export class ModelHoldings {
  /** Bytes this worker may fill with models; set when the worker starts. */
  memoryBytes = 0;
  private readonly models = new Map<string, Held>();

  constructor(
    private readonly workerId: string,
    /** The host's loaded models (fresh, not the heartbeat's last answer). */
    private readonly hostLoaded: () => Promise<LoadedModel[]>,
  ) {}

  get size(): number {
    return this.models.size;
  }

  usedBytes(): number {
    let used = 0;
    for (const h of this.models.values()) used += h.bytes;
    return used;
  }

  /** Every gateway that holds a model here. */
  holders(): Set<string> {
    const gateways = new Set<string>();
    for (const h of this.models.values()) for (const g of h.holders) gateways.add(g);
    return gateways;
  }

  /** The heartbeat's view of the models the host has loaded (others are reservations in progress). */
  describe(loaded: Map<string, LoadedModel>): WorkerModel[] {
    return [...this.models.entries()]
      .filter(([key]) => loaded.has(key))
      .map(([key, h]) => {
        const l = loaded.get(key)!;
        return {
          key,
          name: h.spec.name,
          sizeBytes: l.sizeBytes,
          vramBytes: l.vramBytes,
          numCtx: l.numCtx,
          numParallel: l.numParallel,
          active: h.active,
          holders: [...h.holders],
        };
      });
  }

  /** Reserves memory for a model not yet here, or refuses: a worker is never over-committed. */
  async reserve(spec: ModelSpec, gateway: string): Promise<void> {
    const fp = await estimateFootprint(
      spec.path,
      spec.numCtx,
      spec.numParallel,
      spec.adapters.map((a) => a.path),
    );
    // Re-check after the await: another job may have reserved meanwhile.
    const held = this.models.get(spec.key);
    if (held) {
      held.holders.add(gateway);
      return;
    }
    const free = this.memoryBytes - this.usedBytes();
    if (fp.totalBytes > free) {
      const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
      throw Object.assign(
        new Error(
          `worker ${this.workerId} has no room for model "${spec.name}": needs ~${mib(fp.totalBytes)}, ` +
            `${mib(Math.max(0, free))} of ${mib(this.memoryBytes)} free`,
        ),
        { code: 'out_of_memory' },
      );
    }
    this.models.set(spec.key, { spec, bytes: fp.totalBytes, holders: new Set([gateway]), active: 0 });
  }

  /** A generation or embedding job started on a reserved model. */
  started(key: string): void {
    this.models.get(key)!.active++;
  }

  /**
   * A gateway's unload: that gateway lets go. True while another gateway still holds the model or a
   * job runs on it (the model stays); false when the host should unload it.
   */
  acceptUnload(gateway: string, key: string): boolean {
    const h = this.models.get(key);
    h?.holders.delete(gateway);
    return h !== undefined && (h.holders.size > 0 || h.active > 0);
  }

  /** A gateway whose lease lapsed lets go of everything: the models nobody else holds or uses. */
  releaseGateway(gateway: string): { key: string; name: string }[] {
    const released: { key: string; name: string }[] = [];
    for (const [key, h] of this.models) {
      if (!h.holders.delete(gateway) || h.holders.size > 0 || h.active > 0) continue;
      released.push({ key, name: h.spec.name });
    }
    return released;
  }

  /** After this worker was declared gone: no gateway holds anything; the keys of every model. */
  releaseAll(): string[] {
    const keys: string[] = [];
    for (const [key, h] of this.models) {
      h.holders.clear();
      keys.push(key);
    }
    return keys;
  }

  /** Bookkeeping when a job ends: active counts, and reservations of loads that failed or unloads. */
  settle(job: HoldingJob, m: FromWorker): void {
    if (!job.key) return;
    const h = this.models.get(job.key);
    if (!h) return;
    if ((job.type === 'generate' || job.type === 'embed') && h.active > 0) h.active--;
    if (m.type === 'unloaded') {
      // A gateway may have taken the model up again while the agent's own unload ran (after a rejoin).
      if (h.holders.size === 0) this.models.delete(job.key);
      return;
    }
    if (m.type === 'error' && (m.code === 'model_load_failed' || m.code === 'out_of_memory')) {
      const key = job.key;
      void this.hostLoaded().then((loaded) => {
        if (!loaded.some((l) => l.key === key) && this.models.get(key)?.active === 0) this.models.delete(key);
      });
    }
  }
}
