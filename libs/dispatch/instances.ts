/**
 * The model instances this gateway runs on its workers, and their lifecycle: placed and loaded on a
 * worker (evicting idle least-recently-used instances when it is full, or trying the next candidate
 * in cluster mode), expired by keep_alive, unloaded; and dropped, with their waiting requests moved
 * or failed, when their worker dies.
 */
import { Logger } from '@nestjs/common';
import { CorralError, withTimeout } from '@corral/common';
import { FairQueue } from './fair-queue';
import { type JobRouter, WorkerGone } from './job-router';
import type { LoadedModel, ModelSpec } from '@corral/worker-protocol';
import type { RunTarget, SchedulerOptions } from './scheduler';
import type { WorkerLink } from './worker-link';
import type { WorkerSource } from './worker-pool';

export interface Instance {
  /** Its entry in `instances`: the spec key, or `<key>#<n>` for a second instance (cluster mode). */
  slot: string;
  key: string;
  target: RunTarget;
  spec: ModelSpec;
  worker: WorkerLink;
  loaded?: LoadedModel;
  ready: Promise<void>;
  active: number;
  /** Tokenize calls in flight (they hold no sequence but keep the instance loaded). */
  tokenizing: number;
  /** Requests waiting for a sequence of this instance, served by weighted fair share across teams. */
  waiters: FairQueue<{ resolve: (inst: Instance) => void; reject: (e: unknown) => void }>;
  lastUsed: number;
  keepAliveMs: number;
  expiresAt: number;
  timer?: NodeJS.Timeout;
  /** Load time not yet reported to a request. */
  pendingLoadNs: number;
}

export const FOREVER = 8.64e15;

/** A worker had no room for the model (out_of_memory even after evicting). */
class LoadRefused extends Error {}

export class Instances {
  private readonly logger = new Logger('Scheduler');
  private readonly instances = new Map<string, Instance>();
  private replicaSeq = 0;

  constructor(
    private readonly pool: WorkerSource,
    private readonly router: JobRouter,
    private readonly opts: SchedulerOptions,
  ) {}

  all(): Instance[] {
    return [...this.instances.values()];
  }

  /** Still the table's instance for its slot (not unloaded, nor dropped with its worker). */
  isCurrent(inst: Instance): boolean {
    return this.instances.get(inst.slot) === inst;
  }

  /** The instances of one spec key (more than one only in cluster mode, for a busy model). */
  group(key: string): Instance[] {
    return [...this.instances.values()].filter((i) => i.key === key);
  }

  /** The instance to use for a key: the only one, or the loaded one with the least work. */
  pick(key: string): Instance | undefined {
    const g = this.group(key);
    if (g.length <= 1) return g[0];
    const loaded = g.filter((i) => i.loaded);
    if (loaded.length === 0) return g[0];
    const work = (i: Instance) => (i.active + i.waiters.length) / i.spec.numParallel;
    return loaded.reduce((a, b) => (work(b) < work(a) ? b : a));
  }

  /** The loaded instance for a target, starting (placing and loading) it if needed. */
  async instanceFor(t: RunTarget, spec: ModelSpec): Promise<Instance> {
    let inst = this.pick(spec.key);
    if (!inst && this.opts.placement) {
      const bytes = await this.opts.placement.estimate(spec).catch(() => 0);
      // Another request may have started the instance while the estimate was read.
      inst = this.pick(spec.key) ?? this.startInstance(t, spec, bytes);
    }
    if (!inst) inst = this.startInstance(t, spec, 0);
    await inst.ready;
    return inst;
  }

  /** A worker died or stalled: its instances are gone; their waiting requests move or fail. */
  workerGone(w: WorkerLink, reason: string): void {
    for (const [key, inst] of this.instances) {
      if (inst.worker !== w) continue;
      clearTimeout(inst.timer);
      this.instances.delete(key);
      // Requests waiting for it move to another instance of the model, if there is one (cluster mode).
      const sibling = this.pick(inst.key);
      if (sibling) {
        for (const waiter of inst.waiters.splice(0)) sibling.waiters.push(waiter);
        continue;
      }
      for (const waiter of inst.waiters.splice(0)) {
        waiter.reject(
          w.stalled
            ? new CorralError(
                'unavailable',
                `the worker running '${inst.target.name}' stopped responding (${reason})`,
              )
            : new CorralError(
                'worker_failed',
                `the worker running '${inst.target.name}' stopped (${reason})`,
              ),
        );
      }
    }
  }

  armExpiry(inst: Instance): void {
    clearTimeout(inst.timer);
    if (inst.keepAliveMs < 0 || this.isPinned(inst)) {
      inst.expiresAt = FOREVER;
      return;
    }
    inst.expiresAt = Date.now() + inst.keepAliveMs;
    inst.timer = setTimeout(() => void this.unloadInstance(inst), inst.keepAliveMs);
    inst.timer.unref();
  }

  isPinned(inst: Instance): boolean {
    return this.opts.pinned?.(inst.target.name) === true;
  }

  private chooseWorker(): WorkerLink {
    const workers = this.pool.workers();
    if (workers.length === 0) throw new CorralError('unavailable', 'no inference worker is running');
    const load = (w: WorkerLink) => [...this.instances.values()].filter((i) => i.worker === w).length;
    return workers.reduce((best, w) => (load(w) < load(best) ? w : best));
  }

  private evictLeastRecentIdle(worker: WorkerLink, except: string): Instance | undefined {
    return [...this.instances.values()]
      .filter(
        (i) =>
          i.worker === worker &&
          i.key !== except &&
          i.active === 0 &&
          i.tokenizing === 0 &&
          i.loaded &&
          !this.isPinned(i),
      )
      .sort((a, b) => a.lastUsed - b.lastUsed)[0];
  }

  /** Starts an instance; `replicaOrder` (a second instance): the workers to try, and nothing evicted for it. */
  startInstance(t: RunTarget, spec: ModelSpec, bytes: number, replicaOrder?: WorkerLink[]): Instance {
    const order =
      replicaOrder ??
      (this.opts.placement
        ? this.opts.placement.candidates(spec, bytes, this.pool.workers())
        : [this.chooseWorker()]);
    if (order.length === 0) throw new CorralError('unavailable', 'no inference worker is running');
    const slot = replicaOrder ? `${spec.key}#${++this.replicaSeq}` : spec.key;
    const inst: Instance = {
      slot,
      key: spec.key,
      target: t,
      spec,
      worker: order[0]!,
      ready: Promise.resolve(),
      active: 0,
      waiters: new FairQueue(),
      lastUsed: Date.now(),
      keepAliveMs: t.keepAliveMs,
      expiresAt: FOREVER,
      pendingLoadNs: 0,
      tokenizing: 0,
    };
    this.instances.set(slot, inst);
    inst.ready = (async () => {
      try {
        for (let i = 0; ; i++) {
          inst.worker = order[i]!;
          try {
            await this.loadOn(inst, t, spec, replicaOrder !== undefined);
            // A worker that died under an earlier attempt took the instance out of the map.
            if (!this.instances.has(slot)) this.instances.set(slot, inst);
            return;
          } catch (e) {
            // With a placement (cluster), a worker without room or one that died is not the end:
            // the next candidate is tried.
            const retryable =
              e instanceof LoadRefused ||
              e instanceof WorkerGone ||
              (e instanceof CorralError && e.code === 'worker_failed');
            if (!this.opts.placement || !retryable || i + 1 >= order.length) {
              if (e instanceof LoadRefused) throw new CorralError('model_load_failed', e.message);
              throw e;
            }
            this.logger.warn(`${e.message}; trying worker ${order[i + 1]!.id}`);
          }
        }
      } catch (e) {
        if (this.instances.get(slot) === inst) this.instances.delete(slot);
        throw e;
      }
    })();
    return inst;
  }

  private async loadOn(inst: Instance, t: RunTarget, spec: ModelSpec, noEvict = false): Promise<void> {
    const worker = inst.worker;
    if (noEvict) {
      const here = [...this.instances.values()].filter((i) => i.worker === worker && i !== inst).length;
      if (here >= this.opts.maxLoadedModels)
        throw new LoadRefused(`worker ${worker.id} already holds ${here} models (OLLAMA_MAX_LOADED_MODELS)`);
    } else await this.makeRoom(worker, spec.key);
    for (let attempt = 0; ; attempt++) {
      const reply = await withTimeout(
        this.router.call(worker, (id) => ({ type: 'load', id, model: spec })),
        this.opts.loadTimeoutMs,
        () => new CorralError('model_load_failed', 'timed out waiting for the model to load'),
      );
      if (reply.type === 'loaded') {
        inst.loaded = reply.model;
        inst.pendingLoadNs = reply.model.loadDurationNs;
        return;
      }
      if (reply.type === 'error' && reply.code === 'out_of_memory') {
        if (attempt === 0 && !noEvict) {
          // Memory is short: free the idle least-recently-used model and try once more.
          const victim = this.evictLeastRecentIdle(worker, spec.key);
          if (victim) {
            await this.unloadInstance(victim);
            continue;
          }
        }
        throw new LoadRefused(`failed to load model '${t.name}': ${reply.message}`);
      }
      const msg = reply.type === 'error' ? reply.message : `unexpected reply ${reply.type}`;
      throw new CorralError('model_load_failed', `failed to load model '${t.name}': ${msg}`);
    }
  }

  private async makeRoom(worker: WorkerLink, key: string): Promise<void> {
    // The instance being started is already in the map: count only the others.
    const others = () => [...this.instances.values()].filter((i) => i.worker === worker && i.key !== key);
    while (others().length >= this.opts.maxLoadedModels) {
      const idle = this.evictLeastRecentIdle(worker, key);
      if (!idle) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      this.logger.log(`evicting idle model ${idle.target.name} (max loaded models reached)`);
      await this.unloadInstance(idle);
    }
  }

  async unloadInstance(inst: Instance): Promise<void> {
    clearTimeout(inst.timer);
    if (this.instances.get(inst.slot) !== inst || inst.active > 0 || inst.tokenizing > 0) return;
    this.instances.delete(inst.slot);
    try {
      await this.router.call(inst.worker, (id) => ({ type: 'unload', id, key: inst.key }));
    } catch {
      // The worker is gone, and the model with it.
    }
  }
}
