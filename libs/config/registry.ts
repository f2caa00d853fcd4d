/**
 * Model distribution settings (CORRAL_REGISTRY_*, CORRAL_PULL_*), spread into the env schema by
 * schema.ts. The allow-list is parsed here, at boot, so a malformed entry stops the server instead
 * of silently refusing (or allowing) a source later.
 */
import { z } from 'zod';

export const REGISTRY_ENV_KEYS = {
  CORRAL_REGISTRY_ALLOW:
    'Comma-separated registries that pull and push may talk to: host[:port] (https), https://host[:port] or http://host[:port]; a key may ride in the user part (http://crl_...@host:port). Defaults to none: every pull and push is refused.',
  CORRAL_REGISTRY_KEY:
    'API key sent (Authorization: Bearer) to every allow-listed registry that has no key of its own. Defaults to none.',
  CORRAL_REGISTRY_KEY_FILE:
    'File holding that key, read at each pull or push (a mounted secret; CORRAL_REGISTRY_KEY wins). Defaults to none.',
  CORRAL_PULL_CONCURRENCY: 'Ranged requests in flight per blob during a pull. Defaults to 4.',
  CORRAL_PULL_PART_SIZE:
    'Bytes per ranged part of a pulled blob (at least 65536). Defaults to 67108864 (64 MiB).',
} as const;

/** One allow-listed registry. */
export interface RegistrySource {
  scheme: 'http' | 'https';
  /** Lower-case host name, without brackets for IPv6. */
  hostname: string;
  /** The port, explicit or the scheme's default. */
  port: number;
  /** Key sent to this source only (the user part of the entry). */
  key?: string;
}

export interface RegistryConfig {
  /** Registries pull and push may contact; empty = none. */
  allow: RegistrySource[];
  /** Key for sources without their own. */
  key?: string;
  /** File read for that key at each use, when `key` is unset. */
  keyFile?: string;
  /** Parallel ranged requests per blob. Defaults to 4. */
  pullConcurrency: number;
  /** Bytes per part. Defaults to 64 MiB. */
  pullPartSize: number;
}

/** Parses one allow-list entry; throws a message naming what is wrong. */
export function parseRegistrySource(entry: string): RegistrySource {
  const raw = entry.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Error(`'${raw}' is not host[:port] or an http(s) URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`'${raw}': only http:// and https:// registries are supported`);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash)
    throw new Error(`'${raw}': give only scheme, host and port (no path)`);
  if (url.password) throw new Error(`'${raw}': put the API key in the user part, without a password`);
  const scheme = url.protocol === 'http:' ? 'http' : 'https';
  const hostname = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return {
    scheme,
    hostname,
    port: url.port ? Number(url.port) : scheme === 'http' ? 80 : 443,
    ...(url.username ? { key: decodeURIComponent(url.username) } : {}),
  };
}

const allowList = z.string().transform((s, ctx): RegistrySource[] => {
  const out: RegistrySource[] = [];
  for (const entry of s.split(',')) {
    if (!entry.trim()) continue;
    try {
      out.push(parseRegistrySource(entry));
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  }
  return out;
});

const int = (min: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min));

export const REGISTRY_ENV_SCHEMA = {
  CORRAL_REGISTRY_ALLOW: allowList.optional(),
  CORRAL_REGISTRY_KEY: z.string().trim().min(1).optional(),
  CORRAL_REGISTRY_KEY_FILE: z.string().min(1).optional(),
  CORRAL_PULL_CONCURRENCY: int(1).pipe(z.number().max(64)).default(4),
  CORRAL_PULL_PART_SIZE: int(65536).default(64 * 1024 * 1024),
};

export function registryConfig(e: {
  CORRAL_REGISTRY_ALLOW?: RegistrySource[];
  CORRAL_REGISTRY_KEY?: string;
  CORRAL_REGISTRY_KEY_FILE?: string;
  CORRAL_PULL_CONCURRENCY: number;
  CORRAL_PULL_PART_SIZE: number;
}): RegistryConfig {
  return {
    allow: e.CORRAL_REGISTRY_ALLOW ?? [],
    key: e.CORRAL_REGISTRY_KEY,
    keyFile: e.CORRAL_REGISTRY_KEY_FILE,
    pullConcurrency: e.CORRAL_PULL_CONCURRENCY,
    pullPartSize: e.CORRAL_PULL_PART_SIZE,
  };
}
