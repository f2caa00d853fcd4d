/**
 * The worker side of the cluster transport: takes jobs addressed to this worker from its BullMQ queue,
 * hands them to the inference host (the same WorkerHost the embedded worker process runs), sends every
 * reply into the Redis Stream of the gateway that sent the job, takes cancellations from a pub/sub
 * channel, and announces itself with a heartbeat. What it holds (memory, the gateways holding each
 * model) is ModelHoldings; which of those gateways are alive is GatewayLeases: the jobs of a gateway
 * whose lease lapsed (a gateway that died) are stopped, and the models only it held unloaded.
 */
import { hostname, freemem } from 'node:os';
import { Worker as BullWorker, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  type FromWorker,
  type LoadedModel,
  type ModelSpec,
  type ToWorker,
  type WorkerInfo,
  checkToWorker,
} from '@corral/worker-protocol';
import { ClusterKeys, HEARTBEAT_MS, HEARTBEAT_TTL_MS, type QueuedJob } from '../keys';
import { connectRedis, withDeadline } from '../redis';
import type { WorkerStatus } from '../status';
import { type BlobSource, digestOfPath } from './blob-source';
import { GatewayLeases } from './gateway-leases';
import { ModelHoldings } from './model-holdings';

/** The part of WorkerHost (libs/inference) the agent drives. */
export interface InferenceHost {
  start(): Promise<WorkerInfo>;
  handle(msg: unknown): void;
  onMessage(cb: (m: FromWorker) => void): () => void;
  loadedModels(): Promise<LoadedModel[]>;
  shutdown(): Promise<void>;
}

export interface WorkerAgentOptions {
  redisUrl: string;
  prefix: string;
  id?: string;
  host: InferenceHost;
  blobs: BlobSource;
  /** Bytes this worker may fill with models; default: free GPU memory, or free RAM on the CPU backend. */
  memoryBytes?: number;
  log: (line: string) => void;
}

interface RunningJob {
  gateway: string;
  type: ToWorker['type'];
  key?: string;
  /** Its gateway has given up on it (this worker was declared gone): no output, one error at the end. */
  abandoned?: boolean;
}

const TERMINAL = new Set(['done', 'error', 'loaded', 'unloaded', 'embeddings', 'tokenized']);
/** Replies a gateway has not read are dropped after this (its lease lapsed long before). */
const REPLY_STREAM_TTL_MS = 120_000;
const REPLY_STREAM_MAXLEN = 100_000;

export class WorkerAgent {
  readonly id: string;
  private readonly keys: ClusterKeys;
  private readonly redis: Redis;
  private readonly sub: Redis;
  private bull?: BullWorker<QueuedJob>;
  private info?: WorkerInfo;
  private readonly jobs = new Map<string, RunningJob>();
  private readonly holdings: ModelHoldings;
  private readonly leases: GatewayLeases;
  private readonly earlyCancels = new Map<string, number>();
  private beat?: NodeJS.Timeout;
  private readonly startedAt = Date.now();
  private stopping = false;
  private internalSeq = 0;
  private lastLoaded: LoadedModel[] = [];
  /** When this worker last (re)joined: a gateway's tombstone older than that is already dealt with. */
  private joinedAt = Date.now();
  private lastTick = Date.now();

  constructor(private readonly opts: WorkerAgentOptions) {
    this.id = opts.id ?? `${hostname()}-${process.pid}`;
    this.keys = new ClusterKeys(opts.prefix);
    this.redis = connectRedis(opts.redisUrl, `corral-worker-${this.id}`);
    this.sub = connectRedis(opts.redisUrl, `corral-worker-${this.id}-cancel`);
    this.holdings = new ModelHoldings(this.id, () => this.opts.host.loadedModels());
    this.leases = new GatewayLeases(this.redis, this.keys, (g) => this.gatewayGone(g));
    let down = false;
    this.redis.on('reconnecting', () => {
      if (!down) this.opts.log(`redis at ${redactUrl(opts.redisUrl)} unreachable; retrying`);
      down = true;
    });
    this.redis.on('ready', () => {
      this.leases.redisReady();
      if (down) this.opts.log('redis connection restored');
      down = false;
    });
  }

  async start(): Promise<void> {
    const { log } = this.opts;
    this.info = await this.opts.host.start();
    this.holdings.memoryBytes =
      this.opts.memoryBytes ??
      (this.info.gpus.length > 0
        ? this.info.gpus.reduce((s, g) => s + g.freeBytes, 0)
        : Math.round(this.info.ramFreeBytes * 0.9));
    this.opts.host.onMessage((m) => this.reply(m));

    await this.sub.subscribe(this.keys.cancel(this.id));
    this.sub.on('message', (_channel: string, jobId: string) => this.cancel(jobId));

    // A fresh id per process: anything in the queue was meant for a previous incarnation.
    const queue = new Queue(this.keys.queue(this.id), { connection: this.redis, prefix: this.keys.bull });
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    this.bull = new BullWorker<QueuedJob>(this.keys.queue(this.id), async (job) => this.accept(job.data), {
      connection: this.redis.duplicate(),
      prefix: this.keys.bull,
      concurrency: 256,
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 0 },
    });
    this.bull.on('error', (e) => log(`job queue: ${e.message}`));
    await this.bull.waitUntilReady();

    await this.heartbeat();
    this.lastTick = Date.now();
    this.beat = setInterval(() => void this.tick(), HEARTBEAT_MS);
    log(
      `worker ${this.id} joined the cluster (prefix ${this.opts.prefix}): backend ${this.info.backend}, ` +
        `${this.info.threads} threads, memory budget ${(this.holdings.memoryBytes / 2 ** 20).toFixed(0)} MiB, ` +
        `models from ${this.opts.blobs.description}`,
    );
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    const gap = now - this.lastTick;
    this.lastTick = now;
    if (gap > HEARTBEAT_TTL_MS)
      this.opts.log(`this worker did not run for ${(gap / 1000).toFixed(1)} s (stopped or starved)`);
    try {
      // Before the heartbeat: a worker that was declared gone must not be offered jobs until it is clean.
      await this.rejoinIfDeclaredGone();
      await this.heartbeat();
      await this.checkGateways();
    } catch (e) {
      this.opts.log(`heartbeat failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    const old = Date.now() - 60_000;
    for (const [id, at] of this.earlyCancels) if (at < old) this.earlyCancels.delete(id);
  }

  /**
   * A gateway that declared this worker gone (it stopped answering: SIGSTOP, a long partition) has
   * failed or re-dispatched its jobs and forgotten its models here. So the worker drops them too: its
   * jobs end (their gateways get one error, never the tokens generated meanwhile), every model is
   * unloaded, and the next heartbeat announces an empty worker that gateways take as a new one.
   */
  private async rejoinIfDeclaredGone(): Promise<void> {
    const key = this.keys.dead(this.id);
    const raw = await withDeadline(this.redis.get(key), HEARTBEAT_MS, 'tombstone');
    if (raw === null) return;
    await this.redis.del(key).catch(() => undefined);
    // Written about a heartbeat from before the last rejoin (a second gateway, late): already handled.
    if (!(Number(raw) >= this.joinedAt)) return;
    this.joinedAt = Date.now();
    let dropped = 0;
    for (const [id, job] of this.jobs) {
      if (!job.gateway || job.abandoned) continue;
      job.abandoned = true;
      dropped++;
      this.opts.host.handle({ type: 'cancel', id });
    }
    const models = this.holdings.releaseAll();
    for (const key of models) this.unloadNow(key);
    this.earlyCancels.clear();
    this.opts.log(
      `worker ${this.id} was declared gone by a gateway (it stopped responding); dropped ${dropped} job(s) ` +
        `and ${models.length} model(s), rejoining the cluster clean`,
    );
  }

  async status(): Promise<WorkerStatus> {
    const info = this.info!;
    const loaded = new Map((await this.loadedModels()).map((m) => [m.key, m]));
    const models = this.holdings.describe(loaded);
    return {
      id: this.id,
      host: hostname(),
      at: Date.now(),
      startedAt: this.startedAt,
      info: info.gpus.length > 0 ? info : { ...info, ramFreeBytes: freemem() },
      memoryBytes: this.holdings.memoryBytes,
      usedBytes: this.holdings.usedBytes(),
      models,
      jobs: this.jobs.size,
      blobs: await this.opts.blobs.localDigests?.().catch(() => undefined),
    };
  }

  /**
   * The host's loaded models. It answers once loads in progress settle, which for a big model takes
   * minutes; the heartbeat must not wait that long, so it uses the last answer meanwhile.
   */
  private async loadedModels(): Promise<LoadedModel[]> {
    const fresh = this.opts.host.loadedModels().then((l) => (this.lastLoaded = l));
    const late = new Promise<LoadedModel[]>((r) => setTimeout(() => r(this.lastLoaded), 250).unref());
    return Promise.race([fresh, late]);
  }

  private async heartbeat(): Promise<void> {
    if (this.stopping) return;
    const status = await this.status();
    await withDeadline(
      this.redis
        .multi()
        .set(this.keys.worker(this.id), JSON.stringify(status), 'PX', HEARTBEAT_TTL_MS)
        .sadd(this.keys.workers, this.id)
        .exec(),
      HEARTBEAT_MS,
      'heartbeat',
    );
  }

  /** Stops the jobs of gateways whose lease lapsed, and lets go of the models only they held. */
  private async checkGateways(): Promise<void> {
    const gateways = new Set<string>();
    for (const j of this.jobs.values()) gateways.add(j.gateway);
    for (const g of this.holdings.holders()) gateways.add(g);
    await this.leases.check(gateways);
  }

  private gatewayGone(gateway: string): void {
    let stopped = 0;
    for (const [id, j] of this.jobs) {
      if (j.gateway !== gateway) continue;
      stopped++;
      this.opts.host.handle({ type: 'cancel', id });
    }
    const released = this.holdings.releaseGateway(gateway);
    for (const { key } of released) this.unloadNow(key);
    this.opts.log(
      `gateway ${gateway} lease lapsed: cancelled ${stopped} job(s), unloaded ${released.length} model(s) only it held`,
    );
  }

  private unloadNow(key: string): void {
    const id = `agent-unload-${++this.internalSeq}`;
    this.jobs.set(id, { gateway: '', type: 'unload', key });
    this.opts.host.handle({ type: 'unload', id, key });
  }

  private cancel(jobId: string): void {
    if (this.jobs.has(jobId)) this.opts.host.handle({ type: 'cancel', id: jobId });
    else this.earlyCancels.set(jobId, Date.now());
  }

  /** One job from the queue: validated, its model files found and its memory checked, then run. */
  private async accept(data: QueuedJob): Promise<void> {
    const gateway = typeof data?.gateway === 'string' ? data.gateway : '';
    if (!gateway) return;
    const checked = checkToWorker(data?.msg);
    if (!checked.ok) return this.send(gateway, checked.reply);
    const msg = checked.msg;
    if (msg.type === 'cancel') return this.cancel(msg.id);
    if (msg.type === 'shutdown') return; // gateways do not stop remote workers
    if (this.jobs.has(msg.id)) return; // a redelivery of a job already running
    this.leases.seen(gateway);
    if (msg.type === 'unload') return this.acceptUnload(gateway, msg.id, msg.key);

    this.jobs.set(msg.id, { gateway, type: msg.type, key: msg.model.key });
    try {
      const model = await this.localSpec(msg.model);
      await this.holdings.reserve(model, gateway);
      if (msg.type === 'generate' || msg.type === 'embed') this.holdings.started(model.key);
      this.opts.host.handle({ ...msg, model });
      if (this.earlyCancels.delete(msg.id)) this.opts.host.handle({ type: 'cancel', id: msg.id });
    } catch (e) {
      const code = (e as { code?: string }).code === 'out_of_memory' ? 'out_of_memory' : 'model_load_failed';
      this.jobs.delete(msg.id);
      await this.send(gateway, {
        type: 'error',
        id: msg.id,
        code,
        message: e instanceof Error ? e.message : String(e),
      });
    }
  }

  private async acceptUnload(gateway: string, id: string, key: string): Promise<void> {
    if (this.holdings.acceptUnload(gateway, key)) {
      // Another gateway still uses it: this gateway lets go, the model stays.
      await this.send(gateway, { type: 'unloaded', id, key });
      return;
    }
    this.jobs.set(id, { gateway, type: 'unload', key });
    this.opts.host.handle({ type: 'unload', id, key });
  }

  /** The gateway's paths name blobs by digest; the worker reads them through its BlobSource. */
  private async localSpec(spec: ModelSpec): Promise<ModelSpec> {
    const local = async (path: string) => {
      const digest = digestOfPath(path);
      if (!digest) throw new Error(`model path ${path} is not a blob (sha256-<hex>) the worker can fetch`);
      return this.opts.blobs.resolve({ digest, gatewayPath: path, model: spec.name });
    };
    return {
      ...spec,
      path: await local(spec.path),
      adapters: await Promise.all(spec.adapters.map(async (a) => ({ ...a, path: await local(a.path) }))),
    };
  }

  private reply(m: FromWorker): void {
    if (m.type === 'hello') return;
    const job = this.jobs.get(m.id);
    if (!job) return;
    if (TERMINAL.has(m.type)) {
      this.jobs.delete(m.id);
      this.holdings.settle(job, m);
    }
    if (!job.gateway) return;
    if (job.abandoned) {
      // Its request has ended on the gateway (failed or re-dispatched under another id): nothing it
      // produced since may reach anyone; a gateway that still waits (it had not declared this worker
      // gone) gets a clear error instead.
      if (!TERMINAL.has(m.type)) return;
      void this.send(job.gateway, {
        type: 'error',
        id: m.id,
        code: 'internal',
        message: `worker ${this.id} stopped responding and was declared gone; the job was dropped`,
      });
      return;
    }
    void this.send(job.gateway, m);
  }

  private async send(gateway: string, m: FromWorker): Promise<void> {
    const stream = this.keys.replies(gateway);
    const fields = ['w', this.id, 'm', JSON.stringify(m)];
    try {
      if (TERMINAL.has(m.type)) {
        await this.redis
          .multi()
          .xadd(stream, 'MAXLEN', '~', REPLY_STREAM_MAXLEN, '*', ...fields)
          .pexpire(stream, REPLY_STREAM_TTL_MS)
          .exec();
      } else {
        await this.redis.xadd(stream, 'MAXLEN', '~', REPLY_STREAM_MAXLEN, '*', ...fields);
      }
    } catch (e) {
      this.opts.log(`reply to gateway ${gateway} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.beat);
    await this.bull?.close().catch(() => undefined);
    await this.opts.host.shutdown();
    await this.redis
      .multi()
      .del(this.keys.worker(this.id))
      .srem(this.keys.workers, this.id)
      .exec()
      .catch(() => undefined);
    const queue = new Queue(this.keys.queue(this.id), { connection: this.redis, prefix: this.keys.bull });
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close().catch(() => undefined);
    this.sub.disconnect();
    // quit, not disconnect: the last replies (the errors of jobs cut short) are flushed first.
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** A Redis URL without its password, for logs. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
