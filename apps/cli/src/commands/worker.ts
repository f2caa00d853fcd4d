/**
 * `corral worker --redis URL [--models DIR] [--gateway URL]`: an inference worker that joins a cluster
 * through Redis. It opens no port: jobs arrive through its BullMQ queue, replies go back through Redis
 * Streams. Model files come from its models directory, or over HTTP from `--gateway` when missing.
 */
import { loadConfig, parseSize } from '@corral/config';
import { ConfigError } from './serve';

export interface WorkerFlags {
  redis?: string;
  models?: string;
  memory?: string;
  id?: string;
  prefix?: string;
  gateway?: string;
}

type StartWorker = typeof import('../../../worker/src/remote').startRemoteWorker;

export async function workerCommand(
  flags: WorkerFlags,
  io: { log(line: string): void },
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  let config;
  try {
    config = loadConfig({
      ...env,
      ...(flags.redis ? { REDIS_URL: flags.redis } : {}),
      ...(flags.models ? { OLLAMA_MODELS: flags.models } : {}),
      ...(flags.memory ? { CORRAL_WORKER_MEMORY: flags.memory } : {}),
      ...(flags.id ? { CORRAL_WORKER_ID: flags.id } : {}),
      ...(flags.prefix ? { CORRAL_CLUSTER_PREFIX: flags.prefix } : {}),
      ...(flags.gateway ? { CORRAL_WORKER_GATEWAY: flags.gateway } : {}),
      // The worker is never a gateway; cluster mode is a gateway setting.
      CORRAL_CLUSTER: '0',
    });
  } catch (err) {
    throw new ConfigError(
      (err as Error).message
        .replace('REDIS_URL:', 'REDIS_URL / --redis:')
        .replace('CORRAL_WORKER_MEMORY:', 'CORRAL_WORKER_MEMORY / --memory:')
        .replace('CORRAL_WORKER_ID:', 'CORRAL_WORKER_ID / --id:')
        .replace('CORRAL_CLUSTER_PREFIX:', 'CORRAL_CLUSTER_PREFIX / --prefix:')
        .replace('CORRAL_WORKER_GATEWAY:', 'CORRAL_WORKER_GATEWAY / --gateway:'),
    );
  }
  if (!config.redisUrl) throw new ConfigError('corral worker needs --redis URL (or REDIS_URL)');
  if (flags.memory && parseSize(flags.memory) === undefined)
    throw new ConfigError(`--memory must be a size like 8GiB (got "${flags.memory}")`);
  process.env.CORRAL_GPU = config.gpu;
  if (config.threads) process.env.CORRAL_THREADS = String(config.threads);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startRemoteWorker } = require('../../../worker/src/remote') as { startRemoteWorker: StartWorker };
  const log = (line: string) => process.stderr.write(`[worker] ${line}\n`);
  const worker = await startRemoteWorker({
    redisUrl: config.redisUrl,
    prefix: config.clusterPrefix,
    modelsDir: config.modelsDir,
    memoryBytes: config.worker.memoryBytes,
    id: config.worker.id,
    gateway: config.worker.gateway,
    gatewayKey: config.worker.gatewayKey,
    log,
  });
  io.log(`corral worker ${worker.id} ready`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  io.log(`received ${signal}, leaving the cluster`);
  const force = setTimeout(() => process.exit(130), 10_000);
  force.unref();
  await worker.stop();
  process.exit(0);
}
