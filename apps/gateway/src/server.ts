/**
 * Boots a gateway: data directory, database (migrations applied), model registry, worker pool and
 * scheduler, then the HTTP server. `corral serve` and the e2e tests both start Corral through here.
 */
import { mkdirSync } from 'node:fs';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger, type LogLevel } from '@nestjs/common';
import type { CorralConfig } from '@corral/config';
import { openDatabase } from '@corral/persistence';
import { createRegistry, type ModelRegistry } from '@corral/registry';
import {
  Scheduler,
  WorkerPool,
  workerThreadpoolEnv,
  type SchedulerOptions,
  type WorkerSource,
} from '@corral/dispatch';
import {
  ClusterPlacement,
  ClusterPool,
  ClusterPsView,
  ClusterWorkersSnapshot,
  EmbeddedWorkersSnapshot,
  PinKeeper,
  Pins,
  type WorkersSnapshot,
} from '@corral/cluster';
import { RunService } from '@corral/serving';
import { MIGRATIONS } from '../../../migrations';
import { AppModule } from './app.module';
import { CORRAL_VERSION } from './version';
import { installBodyParser, refusedContentType } from './body-parser';
import { registerMultipart } from '@corral/knowledge';
import { AuditInterceptor } from '@corral/audit';
import { bootstrapAuth, principalOf } from '@corral/auth';
import {
  MAX_PARAM_LENGTH,
  OriginAllowList,
  clientErrorHandler,
  frameworkErrors,
  installRequestGuards,
  installSecurityHeaders,
} from '@corral/common';

export interface RunningServer {
  url: string;
  app: NestFastifyApplication;
  close(): Promise<void>;
}

/** How long shutdown waits for in-flight requests before stopping the workers under them. */
const SHUTDOWN_GRACE_MS = 10_000;

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

function nestLevels(level: CorralConfig['logLevel']): LogLevel[] {
  const map: Record<CorralConfig['logLevel'], LogLevel> = {
    fatal: 'fatal',
    error: 'error',
    warn: 'warn',
    info: 'log',
    debug: 'debug',
    trace: 'verbose',
  };
  return LEVELS.slice(0, LEVELS.indexOf(map[level]) + 1);
}

/** Collects unreferenced blobs at start and every CORRAL_BLOB_GC_INTERVAL. */
function startBlobCollector(registry: ModelRegistry, config: CorralConfig, logger: Logger): { stop(): void } {
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    try {
      const removed = await registry.collectGarbage(config.blobGcGraceMs);
      if (removed.length) logger.log(`collected ${removed.length} unreferenced blob(s)`);
    } catch (e) {
      logger.warn(`blob collection failed: ${(e as Error).message}`);
    } finally {
      running = false;
    }
  };
  void run();
  const timer =
    config.blobGcIntervalMs > 0 ? setInterval(() => void run(), config.blobGcIntervalMs) : undefined;
  timer?.unref();
  return { stop: () => timer && clearInterval(timer) };
}

export async function startServer(config: CorralConfig): Promise<RunningServer> {
  const logger = new Logger('Corral');
  Logger.overrideLogger(nestLevels(config.logLevel));
  mkdirSync(config.home, { recursive: true, mode: 0o700 });
  mkdirSync(config.modelsDir, { recursive: true });

  const database = await openDatabase(config.database, { migrations: MIGRATIONS, schema: config.dbSchema });
  // --- auth: first start creates the admin and its one-time key (never printed) ---
  const boot = await bootstrapAuth(database, config.home);
  if (boot.keyFile) logger.log(`First start: admin API key written to ${boot.keyFile} (mode 0600)`);
  // --- end auth ---
  const registry = createRegistry({ modelsDir: config.modelsDir, importDirs: config.importDirs });
  // A crashed gateway's temp files go now, not at the first registry request. A read-only models
  // directory still serves its models; writes answer 503.
  await registry.init().catch((e: Error) => logger.warn(e.message));
  const collector = startBlobCollector(registry, config, logger);
  const base: SchedulerOptions = {
    maxLoadedModels: config.maxLoadedModels,
    maxQueue: config.maxQueue,
    loadTimeoutMs: config.loadTimeoutMs,
  };
  const pins = new Pins(config.pins);
  if (config.pins.length > 0) base.pinned = (name) => pins.isLoadedPin(name);
  let workers: {
    source: WorkerSource;
    start(): void;
    close(): Promise<void>;
    waitReady(ms: number): Promise<void>;
  };
  let scheduler: Scheduler;
  let snapshot: WorkersSnapshot;
  if (config.cluster) {
    // Cluster mode: no local workers; `corral worker` processes announce themselves in Redis.
    const pool = new ClusterPool({ redisUrl: config.cluster.redisUrl, prefix: config.cluster.prefix });
    scheduler = new Scheduler(pool, {
      ...base,
      placement: new ClusterPlacement(pool, config.cluster.placement, pins),
      redispatch: true,
      view: new ClusterPsView(
        pool,
        config.keepAliveMs,
        async (name) => (await registry.resolve(name)).details,
      ),
    });
    snapshot = new ClusterWorkersSnapshot(pool, scheduler);
    workers = {
      source: pool,
      start: () => pool.start(),
      close: () => pool.close(),
      waitReady: async () => {},
    };
    logger.log(`cluster mode: gateway ${pool.gatewayId}, Redis key prefix ${config.cluster.prefix}`);
  } else {
    const workerCount = config.workers === 'auto' ? 1 : config.workers;
    const pool = new WorkerPool({
      count: workerCount,
      env: {
        CORRAL_GPU: config.gpu,
        ...(config.threads ? { CORRAL_THREADS: String(config.threads) } : {}),
        ...(config.batchThreads ? { CORRAL_BATCH_THREADS: String(config.batchThreads) } : {}),
        ...workerThreadpoolEnv(config.cpuCores),
      },
    });
    scheduler = new Scheduler(pool, base);
    snapshot = new EmbeddedWorkersSnapshot(pool, scheduler);
    workers = {
      source: pool,
      start: () => pool.start(),
      close: () => pool.close(),
      waitReady: (ms) => pool.waitReady(ms),
    };
  }
  workers.start();

  const adapter = new FastifyAdapter({
    bodyLimit: config.bodyLimit,
    genReqId: () => `req_${Math.random().toString(36).slice(2, 12)}`,
    requestIdHeader: false,
    // What Fastify and Node answer before a route runs (414, a NUL in a header) speaks the dialect.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors,
    clientErrorHandler,
  });
  const root = AppModule.with({ config, database, registry, scheduler, workers: snapshot });
  const app = await NestFactory.create<NestFastifyApplication>(root, adapter, {
    logger: nestLevels(config.logLevel),
    bodyParser: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  installBodyParser(fastify, config.bodyLimit);
  // After installBodyParser, which removes every content-type parser: uploads to /v1/files stream.
  await registerMultipart(fastify, config.knowledge.maxFileBytes);
  // Multipart is for file uploads only: everywhere else it stays the 415 every non-JSON body gets.
  fastify.addHook('preValidation', (req, _reply, done) => {
    const type = String(req.headers['content-type'] ?? '').toLowerCase();
    if (type.startsWith('multipart/') && req.routeOptions.url !== '/v1/files') {
      done(refusedContentType(req.headers));
      return;
    }
    done();
  });
  installSecurityHeaders(fastify);
  // A Fastify hook rather than a Nest interceptor: it also sees the requests the auth guard refuses.
  fastify.addHook('onRequest', app.get(AuditInterceptor).hook);
  // After the audit hook, so refused cross-site and rebinding requests are audited too.
  installRequestGuards(fastify, {
    boundHost: config.host,
    origins: new OriginAllowList(config.http.origins),
  });
  fastify.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
    const mode = config.http.versionHeader;
    if (mode === 'always' || (mode === 'authenticated' && principalOf(req)))
      reply.header('x-corral-version', CORRAL_VERSION);
  });
  await app.listen(config.port, config.host);
  await workers.waitReady(120_000).catch((e: Error) => logger.error(e.message));
  // CORRAL_PIN: always-loaded models are loaded now and whenever this gateway lacks them.
  const runs = app.get(RunService);
  const keeper = new PinKeeper({
    pins,
    scheduler,
    workers: workers.source,
    target: async (model) => (await runs.prepare(model, undefined, undefined)).target,
  });
  keeper.start();
  const address = fastify.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  logger.log(
    `Corral ${CORRAL_VERSION} listening on ${url} (models in ${config.modelsDir}, database ${database.kind})`,
  );

  let closed = false;
  return {
    url,
    app,
    close: async () => {
      if (closed) return;
      closed = true;
      keeper.stop();
      collector.stop();
      // Let in-flight requests finish, but not forever: after the grace period the workers are
      // stopped, which ends the remaining generations with an error and lets the server close.
      const grace = setTimeout(() => void workers.close(), SHUTDOWN_GRACE_MS);
      await app.close();
      clearTimeout(grace);
      await workers.close();
      await database.close();
    },
  };
}
