/**
 * Environment configuration, validated once at boot into one typed object. Every key is listed
 * here with its default; docs/configuration.md is generated from the same table by hand review.
 * Admin-editable settings (quotas, policies) are data in the database, not here.
 */
import { homedir, cpus } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { z } from 'zod';
import { parseDuration } from './duration';
import { parseHost } from './host';
import { HTTP_ENV_KEYS, HTTP_ENV_SCHEMA, httpConfig, type HttpConfig } from './http';
import { OIDC_ENV_KEYS, OIDC_ENV_SCHEMA, oidcConfig, type OidcConfig } from './oidc';
import { JOB_STALL_TIMEOUT } from './worker';
import { KNOWLEDGE_ENV_KEYS, KNOWLEDGE_ENV_SCHEMA, knowledgeConfig, type KnowledgeConfig } from './knowledge';
import { REGISTRY_ENV_KEYS, REGISTRY_ENV_SCHEMA, registryConfig, type RegistryConfig } from './registry';

const int = (min: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min));

export const ENV_KEYS = {
  CORRAL_HOME: 'Data directory (database, models, keys). Defaults to ~/.corral.',
  CORRAL_HOST:
    'Address the gateway listens on, host[:port] or a URL. Falls back to OLLAMA_HOST, then 127.0.0.1:11434.',
  OLLAMA_HOST: "Ollama's variable for the same; CORRAL_HOST wins when both are set.",
  OLLAMA_MODELS:
    'Models directory (Ollama layout: blobs/ and manifests/). Defaults to $CORRAL_HOME/models. Point it at an existing Ollama models directory to serve those models as they are.',
  DATABASE_URL: 'PostgreSQL URL (cluster mode). Unset: embedded PGlite in $CORRAL_HOME/db.',
  REDIS_URL: 'Redis URL (cluster mode). Unset: in-process queues.',
  OLLAMA_NUM_PARALLEL: 'Parallel sequences per loaded model (continuous batching). Defaults to 4.',
  OLLAMA_MAX_LOADED_MODELS: 'Most models loaded at once per worker. Defaults to 3.',
  OLLAMA_MAX_QUEUE: 'Requests that may wait for a sequence before new ones get 503. Defaults to 512.',
  OLLAMA_KEEP_ALIVE:
    'How long an idle model stays loaded (duration like 5m, or seconds; negative = forever). Defaults to 5m.',
  OLLAMA_CONTEXT_LENGTH: 'Default context length (num_ctx) per sequence. Defaults to 4096.',
  CORRAL_WORKERS: 'Worker processes to fork: "auto" (one per GPU, else one) or a number. Defaults to auto.',
  CORRAL_GPU: 'Inference backend: auto, cuda, vulkan, metal or cpu. Defaults to auto.',
  CORRAL_THREADS:
    'llama.cpp CPU threads per worker. Defaults to a choice from the cores (see docs/performance.md).',
  CORRAL_BATCH_THREADS:
    'llama.cpp CPU threads for prompt batches (a decode step carrying 32 or more prompt tokens). Defaults to every core on a CPU backend, else CORRAL_THREADS (see docs/performance.md).',
  CORRAL_DECODE_LOOP:
    "native (batched, and while every stream of a model is past its prompt the steps run in Corral's native loop, where that is built), batched (every active sequence of a model decoded in one llama.cpp batch per step, driven from JavaScript) or sequence (node-llama-cpp's per-sequence API). Defaults to native.",
  CORRAL_BODY_LIMIT:
    'Largest JSON request body in bytes. Defaults to 33554432 (32 MiB). Blob uploads stream and are not limited by it.',
  CORRAL_LOG_LEVEL: 'fatal, error, warn, info, debug or trace. Defaults to info.',
  CORRAL_REQUEST_TIMEOUT: 'Longest wait for a worker to answer a load (duration). Defaults to 10m.',
  CORRAL_WORKER_STALL_TIMEOUT:
    'How long a worker may send no heartbeat (it sends one every second, from a timer that keeps running during model loads and decoding) before it is declared stuck: its requests fail (or are re-dispatched), a forked worker is killed (SIGKILL) and restarted, a cluster worker is marked down (duration, at least 2s). Defaults to 10s.',
  CORRAL_JOB_STALL_TIMEOUT:
    'How long a job inside a worker may compute with no progress (no prompt batch evaluated, token decoded or input embedded; waiting for a sequence or a model load does not count) before it fails in-band and the worker exits to be restarted: catches a job wedged in native code while the worker heartbeats on (duration, at least 1s). Defaults to 120s.',
  CORRAL_AUTH_ANONYMOUS:
    'loopback: requests from 127.0.0.1/::1 without credentials act as the admin (single-user laptop). Defaults to off.',
  CORRAL_DB_SCHEMA:
    'PostgreSQL schema to create and use (one database shared by several instances or test runs). Defaults to the search path.',
  CORRAL_AUDIT_KEY_FILE:
    'Ed25519 key (PKCS#8 PEM) that signs audit checkpoints, e.g. a mounted secret; never created. Defaults to $CORRAL_HOME/audit-signing.key (created 0600 at first start).',
  CORRAL_AUDIT_RETENTION_DAYS:
    'Days audit events are kept in the database; older whole segments are exported to CORRAL_AUDIT_EXPORT_DIR, then deleted, hourly. 0 keeps them forever. Defaults to 0.',
  CORRAL_AUDIT_EXPORT_DIR: 'Where retention writes audit exports. Defaults to $CORRAL_HOME/audit-archive.',
  CORRAL_AUDIT:
    'on or off. off stops recording request and admin events: for benchmarking and debugging only, never in production. Defaults to on.',
  CORRAL_CLUSTER:
    '1: cluster mode (needs REDIS_URL): the gateway forks no workers and schedules on the `corral worker` processes it finds in Redis. Defaults to 0 (embedded).',
  CORRAL_CLUSTER_PREFIX:
    'Prefix of every Redis key, channel and BullMQ queue of the cluster (several clusters can share one Redis). Defaults to corral.',
  CORRAL_PLACEMENT:
    'Where new model instances go: binpack (fullest worker that fits) or spread (emptiest worker). Defaults to binpack.',
  CORRAL_WORKER_MEMORY:
    '`corral worker`: bytes it may fill with models (e.g. 20GiB, 512MiB). Defaults to free GPU memory, or 90% of free RAM on CPU.',
  CORRAL_WORKER_ID: '`corral worker`: its id in the cluster. Defaults to <hostname>-<pid>.',
  CORRAL_PIN:
    'Pinned models, separated by ";": "<model>[@<worker id>,...][ on-demand]". A pinned model is loaded at start and never expired by keep_alive; with @ids it is placed only on those workers (cluster mode); "on-demand" keeps only the worker restriction.',
  CORRAL_WORKER_GATEWAY:
    '`corral worker`: URL of a gateway to fetch model blobs from (GET /v2/.../blobs/<digest>) when its models directory lacks them. Unset: the models directory must be shared.',
  CORRAL_WORKER_KEY:
    '`corral worker`: API key (scope models:read) it shows CORRAL_WORKER_GATEWAY when fetching blobs.',
  CORRAL_IMPORT_DIRS:
    'Directories (separated by ":", like PATH) whose files /api/create may name by server path: the legacy `path` field, `FROM <path>` and `ADAPTER <path>` in `modelfile`. A path is accepted only when its real path (symlinks and .. resolved) is inside one of them; `path` must be a regular file of at most 1 MiB. Unset: every server path is refused and clients upload files (POST /api/blobs/<digest>) as Ollama\'s client does. Defaults to none.',
  CORRAL_BLOB_GC_GRACE:
    "Age (duration) after which a blob no model refers to (an upload never used by a create, a failed create's leftovers) is deleted, and an idle push upload session is abandoned. Defaults to 1h.",
  CORRAL_BLOB_GC_INTERVAL:
    'How often (duration) unreferenced blobs and stale upload sessions are collected; they are also collected at start. 0 collects only at start. Defaults to 10m.',
  ...OIDC_ENV_KEYS,
  ...REGISTRY_ENV_KEYS,
  ...KNOWLEDGE_ENV_KEYS,
  ...HTTP_ENV_KEYS,
} as const;

const PIN_RULE =
  'entries separated by ";", each "<model>[@<worker id>,...][ on-demand]" (e.g. "llama3:8b; qwen2:7b@gpu-a,gpu-b")';

/** `8GiB`, `512MiB`, `1.5GB`, `1024` (bytes) → bytes. */
export function parseSize(value: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$/i.exec(value);
  if (!m) return undefined;
  const unit = (m[2] ?? 'b').toLowerCase();
  const pow = { b: 0, k: 1, m: 2, g: 3, t: 4 }[unit[0] as 'b' | 'k' | 'm' | 'g' | 't'];
  const base = unit.includes('i') || unit.length === 1 ? 1024 : 1000;
  return Math.round(Number(m[1]) * base ** pow);
}

export type EnvKey = keyof typeof ENV_KEYS;

const EnvSchema = z.object({
  CORRAL_HOME: z.string().min(1).optional(),
  CORRAL_HOST: z.string().min(1).optional(),
  OLLAMA_HOST: z.string().min(1).optional(),
  OLLAMA_MODELS: z.string().min(1).optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .optional(),
  OLLAMA_NUM_PARALLEL: int(1).default(4),
  OLLAMA_MAX_LOADED_MODELS: int(1).default(3),
  OLLAMA_MAX_QUEUE: int(0).default(512),
  OLLAMA_KEEP_ALIVE: z.string().default('5m'),
  OLLAMA_CONTEXT_LENGTH: int(16).default(4096),
  CORRAL_WORKERS: z.union([z.literal('auto'), int(1)]).default('auto'),
  CORRAL_GPU: z.enum(['auto', 'cuda', 'vulkan', 'metal', 'cpu']).default('auto'),
  CORRAL_THREADS: int(1).optional(),
  CORRAL_BATCH_THREADS: int(1).optional(),
  CORRAL_DECODE_LOOP: z.enum(['native', 'batched', 'sequence']).default('native'),
  CORRAL_BODY_LIMIT: int(1024).default(32 * 1024 * 1024),
  CORRAL_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  CORRAL_REQUEST_TIMEOUT: z.string().default('10m'),
  CORRAL_WORKER_STALL_TIMEOUT: z
    .string()
    .refine((v) => (parseDuration(v) ?? 0) >= 2000, 'must be a duration of at least 2s, like 10s')
    .default('10s'),
  CORRAL_JOB_STALL_TIMEOUT: JOB_STALL_TIMEOUT,
  CORRAL_AUTH_ANONYMOUS: z.enum(['loopback', 'off']).default('off'),
  CORRAL_DB_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
    .optional(),
  CORRAL_AUDIT_KEY_FILE: z.string().min(1).optional(),
  CORRAL_AUDIT_RETENTION_DAYS: int(0).default(0),
  CORRAL_AUDIT_EXPORT_DIR: z.string().min(1).optional(),
  CORRAL_AUDIT: z.enum(['on', 'off']).default('on'),
  CORRAL_CLUSTER: z.enum(['0', '1', 'true', 'false']).default('0'),
  CORRAL_CLUSTER_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - only')
    .default('corral'),
  CORRAL_PLACEMENT: z.enum(['binpack', 'spread']).default('binpack'),
  CORRAL_WORKER_MEMORY: z
    .string()
    .refine((v) => parseSize(v) !== undefined, 'must be a size like 8GiB, 512MiB or a number of bytes')
    .optional(),
  CORRAL_WORKER_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,100}$/, 'letters, digits, _ . - only')
    .optional(),
  CORRAL_PIN: z
    .string()
    .refine((v) => parsePins(v) !== undefined, PIN_RULE)
    .optional(),
  CORRAL_WORKER_GATEWAY: z
    .string()
    .refine(
      (v) => /^https?:\/\/[^/]+\/?$/.test(v) && URL.canParse(v),
      'must be an http(s) URL like http://gateway:11434',
    )
    .optional(),
  CORRAL_WORKER_KEY: z.string().min(1).optional(),
  CORRAL_IMPORT_DIRS: z.string().optional(),
  CORRAL_BLOB_GC_GRACE: z
    .string()
    .refine((v) => (parseDuration(v) ?? -1) >= 0, 'must be a duration like 1h or 30m')
    .default('1h'),
  CORRAL_BLOB_GC_INTERVAL: z
    .string()
    .refine((v) => (parseDuration(v) ?? -1) >= 0, 'must be a duration like 10m, or 0')
    .default('10m'),
  ...OIDC_ENV_SCHEMA,
  ...REGISTRY_ENV_SCHEMA,
  ...KNOWLEDGE_ENV_SCHEMA,
  ...HTTP_ENV_SCHEMA,
});

export interface CorralConfig {
  home: string;
  host: string;
  port: number;
  modelsDir: string;
  database: { kind: 'pglite'; dataDir: string } | { kind: 'postgres'; url: string };
  redisUrl?: string;
  numParallel: number;
  maxLoadedModels: number;
  maxQueue: number;
  /** Idle time before unload in ms; negative = never. */
  keepAliveMs: number;
  contextLength: number;
  /** Number of worker processes, or 'auto'. */
  workers: number | 'auto';
  gpu: 'auto' | 'cuda' | 'vulkan' | 'metal' | 'cpu';
  threads?: number;
  /** llama.cpp threads for prompt batches (CORRAL_BATCH_THREADS); the worker chooses when absent. */
  batchThreads?: number;
  bodyLimit: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  loadTimeoutMs: number;
  /** CORRAL_WORKER_STALL_TIMEOUT: a worker silent this long is declared stuck. Defaults to 10 s. */
  workerStallTimeoutMs: number;
  cpuCores: number;
  /** Credential-less access from loopback addresses. Defaults to 'off'. */
  authAnonymous: 'loopback' | 'off';
  /** PostgreSQL schema (DATABASE_URL only). Defaults to the server's search path. */
  dbSchema?: string;
  /** Audit checkpoint signing key file (a mounted secret). Defaults to $CORRAL_HOME/audit-signing.key. */
  auditKeyFile?: string;
  /** Audit events older than this many days are exported, then deleted; 0 keeps them forever. */
  auditRetentionDays: number;
  /** Where audit retention writes its exports. Defaults to $CORRAL_HOME/audit-archive. */
  auditExportDir: string;
  /** false only with CORRAL_AUDIT=off (benchmarks, debugging). */
  auditEnabled: boolean;
  /** Console single sign-on (CORRAL_OIDC_*); undefined when CORRAL_OIDC_ISSUER is unset. */
  oidc?: OidcConfig;
  /** Pull and push between registries (CORRAL_REGISTRY_*, CORRAL_PULL_*). */
  registry: RegistryConfig;
  knowledge: KnowledgeConfig;
  /** Browser origins and the version header (CORRAL_ORIGINS, OLLAMA_ORIGINS, CORRAL_VERSION_HEADER). */
  http: HttpConfig;
  /** Cluster mode (CORRAL_CLUSTER=1 with REDIS_URL); undefined in the embedded mode. */
  cluster?: { redisUrl: string; prefix: string; placement: 'binpack' | 'spread' };
  /** Key prefix a `corral worker` joins under (also set without cluster mode). */
  clusterPrefix: string;
  /** Pinned models (CORRAL_PIN). */
  pins: ModelPin[];
  /** Directories server-side create paths may read from (CORRAL_IMPORT_DIRS). Defaults to none. */
  importDirs: string[];
  /** Unreferenced blobs and idle upload sessions older than this are collected (CORRAL_BLOB_GC_GRACE). Defaults to 1 h. */
  blobGcGraceMs: number;
  /** How often they are collected; 0 = only at start (CORRAL_BLOB_GC_INTERVAL). Defaults to 10 min. */
  blobGcIntervalMs: number;
  /** `corral worker` settings. */
  worker: {
    memoryBytes?: number;
    id?: string;
    /** Origin of the gateway to fetch missing blobs from (no trailing slash). */
    gateway?: string;
    /** Key shown to that gateway. */
    gatewayKey?: string;
  };
}

/** One CORRAL_PIN entry. */
export interface ModelPin {
  /** The model as written (resolved like a request's `model`). */
  model: string;
  /** Worker ids it may be placed on (cluster mode); undefined = any. */
  workers?: string[];
  /** Loaded at start (and when workers appear) and never expired by keep_alive. */
  loaded: boolean;
}

/** Parses CORRAL_PIN; undefined when malformed. */
export function parsePins(value: string): ModelPin[] | undefined {
  const out: ModelPin[] = [];
  for (const raw of value.split(';')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const m =
      /^([A-Za-z0-9_][A-Za-z0-9_.:/-]*)(?:@([A-Za-z0-9_.-]+(?:,[A-Za-z0-9_.-]+)*))?(?:\s+(on-demand))?$/.exec(
        entry,
      );
    if (!m?.[1]) return undefined;
    out.push({ model: m[1], workers: m[2]?.split(','), loaded: m[3] !== 'on-demand' });
  }
  return out;
}

/** Reads and validates configuration from an environment; throws one error listing every bad key. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): CorralConfig {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(ENV_KEYS)) {
    const v = env[key];
    if (v !== undefined && v !== '') picked[key] = v;
  }
  const parsed = EnvSchema.safeParse(picked);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const home = resolve(e.CORRAL_HOME ?? join(homedir(), '.corral'));
  const { host, port } = parseHost(e.CORRAL_HOST ?? e.OLLAMA_HOST ?? '');
  const keepAlive = parseDuration(e.OLLAMA_KEEP_ALIVE);
  const timeout = parseDuration(e.CORRAL_REQUEST_TIMEOUT);
  if (keepAlive === undefined) throw new Error(`invalid configuration:\n  OLLAMA_KEEP_ALIVE: not a duration`);
  if (timeout === undefined || timeout <= 0)
    throw new Error(`invalid configuration:\n  CORRAL_REQUEST_TIMEOUT: not a positive duration`);
  return {
    home,
    host,
    port,
    modelsDir: resolve(e.OLLAMA_MODELS ?? join(home, 'models')),
    database: e.DATABASE_URL
      ? { kind: 'postgres', url: e.DATABASE_URL }
      : { kind: 'pglite', dataDir: join(home, 'db') },
    redisUrl: e.REDIS_URL,
    numParallel: e.OLLAMA_NUM_PARALLEL,
    maxLoadedModels: e.OLLAMA_MAX_LOADED_MODELS,
    maxQueue: e.OLLAMA_MAX_QUEUE,
    keepAliveMs: keepAlive,
    contextLength: e.OLLAMA_CONTEXT_LENGTH,
    workers: e.CORRAL_WORKERS,
    gpu: e.CORRAL_GPU,
    threads: e.CORRAL_THREADS,
    batchThreads: e.CORRAL_BATCH_THREADS,
    bodyLimit: e.CORRAL_BODY_LIMIT,
    logLevel: e.CORRAL_LOG_LEVEL,
    loadTimeoutMs: timeout,
    workerStallTimeoutMs: parseDuration(e.CORRAL_WORKER_STALL_TIMEOUT)!,
    cpuCores: cpus().length,
    authAnonymous: e.CORRAL_AUTH_ANONYMOUS,
    dbSchema: e.CORRAL_DB_SCHEMA,
    auditKeyFile: e.CORRAL_AUDIT_KEY_FILE ? resolve(e.CORRAL_AUDIT_KEY_FILE) : undefined,
    auditRetentionDays: e.CORRAL_AUDIT_RETENTION_DAYS,
    auditExportDir: resolve(e.CORRAL_AUDIT_EXPORT_DIR ?? join(home, 'audit-archive')),
    auditEnabled: e.CORRAL_AUDIT === 'on',
    oidc: oidcConfig(e),
    registry: registryConfig(e),
    knowledge: knowledgeConfig(e),
    http: httpConfig(e),
    cluster: clusterConfig(e),
    clusterPrefix: e.CORRAL_CLUSTER_PREFIX,
    pins: e.CORRAL_PIN ? (parsePins(e.CORRAL_PIN) ?? []) : [],
    importDirs: (e.CORRAL_IMPORT_DIRS ?? '')
      .split(delimiter)
      .map((d) => d.trim())
      .filter((d) => d !== '')
      .map((d) => resolve(d)),
    blobGcGraceMs: parseDuration(e.CORRAL_BLOB_GC_GRACE) ?? 3_600_000,
    blobGcIntervalMs: parseDuration(e.CORRAL_BLOB_GC_INTERVAL) ?? 600_000,
    worker: {
      memoryBytes: e.CORRAL_WORKER_MEMORY ? parseSize(e.CORRAL_WORKER_MEMORY) : undefined,
      id: e.CORRAL_WORKER_ID,
      gateway: e.CORRAL_WORKER_GATEWAY ? new URL(e.CORRAL_WORKER_GATEWAY).origin : undefined,
      gatewayKey: e.CORRAL_WORKER_KEY,
    },
  };
}

function clusterConfig(e: z.infer<typeof EnvSchema>): CorralConfig['cluster'] {
  if (e.CORRAL_CLUSTER !== '1' && e.CORRAL_CLUSTER !== 'true') return undefined;
  if (!e.REDIS_URL)
    throw new Error(
      'invalid configuration:\n  CORRAL_CLUSTER: cluster mode needs REDIS_URL (the coordination Redis)',
    );
  return { redisUrl: e.REDIS_URL, prefix: e.CORRAL_CLUSTER_PREFIX, placement: e.CORRAL_PLACEMENT };
}

/**
 * CORRAL_WORKER_STALL_TIMEOUT in ms, for the worker pools that are built without the config object;
 * an unset or invalid value (loadConfig refuses those at boot) gives the default, 10 s.
 */
export function workerStallTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const ms = parseDuration(env.CORRAL_WORKER_STALL_TIMEOUT?.trim() || '10s');
  return ms !== undefined && ms >= 2000 ? ms : 10_000;
}
