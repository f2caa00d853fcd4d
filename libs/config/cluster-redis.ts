import type { CorralConfig } from './schema';

/**
 * Where gateways that share one database also share durable buffers (audit events, usage records)
 * and leader locks in Redis: only in cluster mode, i.e. with both DATABASE_URL and REDIS_URL. An
 * embedded installation (PGlite) keeps those on its own disk even when REDIS_URL is set, so two
 * installations that happen to share a Redis never write into each other's database. The key
 * prefix is the cluster's (CORRAL_CLUSTER_PREFIX) and names the PostgreSQL schema (CORRAL_DB_SCHEMA)
 * for the same reason.
 */
export function clusterRedis(c: CorralConfig): { url: string; prefix: string } | undefined {
  if (!c.redisUrl || c.database.kind !== 'postgres') return undefined;
  const base = c.clusterPrefix ?? 'corral';
  return { url: c.redisUrl, prefix: c.dbSchema ? `${base}:${c.dbSchema}:` : `${base}:` };
}
