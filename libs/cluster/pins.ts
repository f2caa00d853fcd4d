/**
 * Per-model pinning (CORRAL_PIN): a pinned model is kept loaded (loaded when the gateway starts and
 * again whenever this gateway has no instance of it, e.g. after its worker died; never expired by
 * keep_alive, never evicted for room) and/or placed only on given workers. `Pins` answers the
 * questions the scheduler and the placement ask; `PinKeeper` does the loading.
 */
import { Logger } from '@nestjs/common';
import type { ModelPin } from '@corral/config';
import type { RunTarget, Scheduler, WorkerSource } from '@corral/dispatch';
import { modelNameKey, parseModelName } from '@corral/registry';

/** How often the keeper checks that every pinned model is loaded. */
export const PIN_CHECK_MS = 5_000;

function keyOf(name: string): string | undefined {
  try {
    return modelNameKey(parseModelName(name));
  } catch {
    return undefined;
  }
}

export class Pins {
  private readonly byKey = new Map<string, ModelPin>();

  constructor(readonly list: readonly ModelPin[]) {
    for (const p of list) {
      const k = keyOf(p.model);
      if (k) this.byKey.set(k, p);
    }
  }

  private of(name: string): ModelPin | undefined {
    const k = keyOf(name);
    return k ? this.byKey.get(k) : undefined;
  }

  /** Whether `name` is pinned as always loaded. */
  isLoadedPin(name: string): boolean {
    return this.of(name)?.loaded === true;
  }

  /** The worker ids `name` may be placed on; undefined = any. */
  workersFor(name: string): string[] | undefined {
    return this.of(name)?.workers;
  }

  /** The models to keep loaded. */
  loaded(): ModelPin[] {
    return this.list.filter((p) => p.loaded);
  }
}

export interface PinKeeperDeps {
  pins: Pins;
  scheduler: Pick<Scheduler, 'load' | 'queueDepth'>;
  workers: Pick<WorkerSource, 'onWorkerUp' | 'workers'>;
  /** The run target of a model name (the registry's parameters, the server's defaults). */
  target: (model: string) => Promise<RunTarget>;
}

/** Loads every always-loaded pin that this gateway has no instance of, at start and every few seconds. */
export class PinKeeper {
  private readonly logger = new Logger('Pins');
  private timer?: NodeJS.Timeout;
  private running = false;
  /** The last failure reported per model, so a persisting one is logged once. */
  private readonly lastError = new Map<string, string>();

  constructor(private readonly deps: PinKeeperDeps) {}

  start(): void {
    if (this.deps.pins.loaded().length === 0) return;
    this.deps.workers.onWorkerUp(() => void this.check());
    this.timer = setInterval(() => void this.check(), PIN_CHECK_MS);
    this.timer.unref();
    void this.check();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One pass: starts the missing pinned instances (one at a time; loads are heavy). */
  async check(): Promise<void> {
    if (this.running || this.deps.workers.workers().length === 0) return;
    this.running = true;
    try {
      const present = new Set(
        this.deps.scheduler.queueDepth().flatMap((q) => {
          const k = keyOf(q.name);
          return k ? [k] : [];
        }),
      );
      for (const pin of this.deps.pins.loaded()) {
        if (present.has(keyOf(pin.model) ?? '')) continue;
        try {
          const target = await this.deps.target(pin.model);
          if (present.has(keyOf(target.name) ?? '')) continue;
          await this.deps.scheduler.load(target);
          this.logger.log(`pinned model ${target.name} loaded`);
          this.lastError.delete(pin.model);
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          if (this.lastError.get(pin.model) !== msg)
            this.logger.warn(`cannot load pinned model ${pin.model} (will retry): ${msg}`);
          this.lastError.set(pin.model, msg);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
