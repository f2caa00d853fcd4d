/**
 * Which registries a pull or push may contact. The decision is made from the model name and the
 * configured allow-list alone, before any connection (so no request can be aimed at an internal
 * service that is not on the list), and redirects are later held to the same origin.
 */
import { readFile } from 'node:fs/promises';
import { CorralError } from '@corral/common';
import type { RegistryConfig, RegistrySource } from '@corral/config';
import type { ModelName } from '@corral/registry';

/** Where a name's registry lives, and the key to show it. */
export interface ResolvedSource {
  /** `http://host:port`, no trailing slash. */
  origin: string;
  /** Bearer key for this registry, if any. */
  key?: string;
}

/** Splits a name's host part (`host`, `host:port`, `[::1]:port`) into host name and port. */
export function splitHost(host: string): { hostname: string; port?: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  if (!m?.[1]) return { hostname: host.toLowerCase() };
  return {
    hostname: m[1].replace(/^\[|\]$/g, '').toLowerCase(),
    ...(m[2] ? { port: Number(m[2]) } : {}),
  };
}

/** The allow-list entry a name's host matches, or undefined. A host without a port means the scheme's default. */
export function matchSource(allow: readonly RegistrySource[], host: string): RegistrySource | undefined {
  const { hostname, port } = splitHost(host);
  return allow.find((s) => s.hostname === hostname && (port ?? (s.scheme === 'http' ? 80 : 443)) === s.port);
}

/**
 * Resolves the registry of `name` against the allow-list, or throws a 403 naming the host. An
 * `insecure` request is only accepted for a source the admin listed as http://.
 */
export async function resolveSource(
  config: RegistryConfig,
  name: ModelName,
  opts: { insecure?: boolean; verb: 'pull' | 'push' },
): Promise<ResolvedSource> {
  const source = matchSource(config.allow, name.host);
  if (!source) {
    throw new CorralError(
      'forbidden',
      `${opts.verb === 'pull' ? 'pulling from' : 'pushing to'} '${name.host}' is not allowed: the registry is not in CORRAL_REGISTRY_ALLOW`,
      'model',
    );
  }
  if (opts.insecure && source.scheme !== 'http') {
    throw new CorralError(
      'forbidden',
      `insecure ${opts.verb} is not allowed for '${name.host}': it is allow-listed as https`,
      'insecure',
    );
  }
  const host = source.hostname.includes(':') ? `[${source.hostname}]` : source.hostname;
  return {
    origin: `${source.scheme}://${host}:${source.port}`,
    key: source.key ?? (await defaultKey(config)),
  };
}

async function defaultKey(config: RegistryConfig): Promise<string | undefined> {
  if (config.key) return config.key;
  if (!config.keyFile) return undefined;
  try {
    return (await readFile(config.keyFile, 'utf8')).trim() || undefined;
  } catch (e) {
    throw new CorralError(
      'unavailable',
      `cannot read CORRAL_REGISTRY_KEY_FILE: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}
