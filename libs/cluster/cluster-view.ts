/**
 * The whole cluster as /api/ps and /admin/v1/workers show it, built from the workers' heartbeats
 * (the workers are the source of truth of what is loaded) plus this gateway's own queue.
 */
import type { ClusterView, RunningModel, Scheduler, WorkerPool } from '@corral/dispatch';
import type { ClusterPool } from './cluster-pool';
import { freeBytes } from './status';

/** Details /api/ps shows for a model this gateway never ran (looked up in the shared registry). */
export type DetailsLookup = (name: string) => Promise<Record<string, unknown> | undefined>;

export class ClusterPsView implements ClusterView {
  private readonly cache = new Map<string, Record<string, unknown>>();

  constructor(
    private readonly pool: ClusterPool,
    private readonly defaultKeepAliveMs: number,
    private readonly lookup: DetailsLookup,
  ) {}

  async ps(local: RunningModel[]): Promise<RunningModel[]> {
    const out: RunningModel[] = [];
    for (const s of this.pool.statuses()) {
      for (const m of s.models) {
        const mine = local.find(
          (l) => l.workerId === s.id && l.name === m.name && l.contextLength === m.numCtx,
        );
        out.push({
          name: m.name,
          digest: m.key.split('|')[0] ?? '',
          size: m.sizeBytes,
          sizeVram: m.vramBytes,
          details: mine?.details ?? (await this.details(m.name, m.key)),
          expiresAt:
            mine?.expiresAt ??
            new Date(this.defaultKeepAliveMs < 0 ? 8.64e15 : s.at + this.defaultKeepAliveMs),
          contextLength: m.numCtx,
          workerId: s.id,
        });
      }
    }
    return out;
  }

  /** Cached per instance key (it starts with the digest): a re-created model gets fresh details. */
  private async details(name: string, key: string): Promise<Record<string, unknown>> {
    const hit = this.cache.get(key);
    if (hit) return hit;
    const d = await this.lookup(name).catch(() => undefined);
    if (d) this.cache.set(key, d);
    return d ?? {};
  }
}

export interface WorkerModelView {
  name: string;
  digest: string;
  size: number;
  size_vram: number;
  context_length: number;
  num_parallel: number;
  /** Requests running or waiting for a sequence on the worker (all gateways). */
  active: number;
  /** Of those, waiting for a sequence on the worker, plus those waiting in this gateway's queue. */
  queued: number;
  /** Gateways holding the instance. */
  holders: string[];
}

export interface WorkerView {
  id: string;
  host: string;
  pid: number;
  backend: string;
  gpus: { name: string; total_bytes: number; free_bytes: number }[];
  ram_total_bytes: number;
  ram_free_bytes: number;
  threads: number;
  cpu_cores: number;
  memory_bytes: number;
  used_bytes: number;
  free_bytes: number;
  started_at: string | null;
  last_heartbeat: string | null;
  jobs: number;
  models: WorkerModelView[];
}

/** What the admin workers endpoint lists, in either deployment. */
export interface WorkersSnapshot {
  mode: 'embedded' | 'cluster';
  workers(): WorkerView[];
}

export class ClusterWorkersSnapshot implements WorkersSnapshot {
  readonly mode = 'cluster';
  constructor(
    private readonly pool: ClusterPool,
    private readonly scheduler: Scheduler,
  ) {}

  workers(): WorkerView[] {
    const local = this.scheduler.ps();
    const depth = this.scheduler.queueDepth();
    return this.pool.statuses().map((s) => ({
      id: s.id,
      host: s.host,
      pid: s.info.pid,
      backend: s.info.backend,
      gpus: s.info.gpus.map((g) => ({ name: g.name, total_bytes: g.totalBytes, free_bytes: g.freeBytes })),
      ram_total_bytes: s.info.ramTotalBytes,
      ram_free_bytes: s.info.ramFreeBytes,
      threads: s.info.threads,
      cpu_cores: s.info.cpuCores,
      memory_bytes: s.memoryBytes,
      used_bytes: s.usedBytes,
      free_bytes: freeBytes(s),
      started_at: new Date(s.startedAt).toISOString(),
      last_heartbeat: new Date(s.at).toISOString(),
      jobs: s.jobs,
      models: s.models.map((m) => {
        const mine = local.some((l) => l.workerId === s.id && l.name === m.name);
        const waitingHere = mine
          ? (depth.find((d) => d.name === m.name && d.workerId === s.id)?.waiting ?? 0)
          : 0;
        return {
          name: m.name,
          digest: (m.key.split('|')[0] ?? '').replace(/^sha256:/, ''),
          size: m.sizeBytes,
          size_vram: m.vramBytes,
          context_length: m.numCtx,
          num_parallel: m.numParallel,
          active: m.active,
          queued: Math.max(0, m.active - m.numParallel) + waitingHere,
          holders: m.holders,
        };
      }),
    }));
  }
}

/** The embedded deployment: the forked workers and the one scheduler's instances. */
export class EmbeddedWorkersSnapshot implements WorkersSnapshot {
  readonly mode = 'embedded';
  constructor(
    private readonly pool: WorkerPool,
    private readonly scheduler: Scheduler,
  ) {}

  workers(): WorkerView[] {
    const ps = this.scheduler.ps();
    const depth = this.scheduler.queueDepth();
    return this.pool.workers().map((w) => {
      const info = w.info;
      const models = ps.filter((m) => m.workerId === w.id);
      const used = models.reduce((n, m) => n + m.size, 0);
      return {
        id: w.id,
        host: 'local',
        pid: info?.pid ?? 0,
        backend: info?.backend ?? 'cpu',
        gpus: (info?.gpus ?? []).map((g) => ({
          name: g.name,
          total_bytes: g.totalBytes,
          free_bytes: g.freeBytes,
        })),
        ram_total_bytes: info?.ramTotalBytes ?? 0,
        ram_free_bytes: info?.ramFreeBytes ?? 0,
        threads: info?.threads ?? 0,
        cpu_cores: info?.cpuCores ?? 0,
        memory_bytes: 0,
        used_bytes: used,
        free_bytes: 0,
        started_at: null,
        last_heartbeat: null,
        jobs: 0,
        models: models.map((m) => {
          const d = depth.find((x) => x.name === m.name && x.workerId === w.id);
          return {
            name: m.name,
            digest: m.digest.replace(/^sha256:/, ''),
            size: m.size,
            size_vram: m.sizeVram,
            context_length: m.contextLength,
            num_parallel: 0,
            active: d?.active ?? 0,
            queued: d?.waiting ?? 0,
            holders: [],
          };
        }),
      };
    });
  }
}
