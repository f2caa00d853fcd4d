/**
 * HTTP-surface settings (browser origins, the version header), spread into the env schema by
 * schema.ts.
 */
import { z } from 'zod';

export const HTTP_ENV_KEYS = {
  CORRAL_ORIGINS:
    "Extra browser origins (comma-separated; `*` is a wildcard, `*` alone allows all) whose pages may send state-changing requests (POST, PUT, PATCH, DELETE). Always allowed: the server's own origin, http(s)://localhost, 127.0.0.1, [::1] and 0.0.0.0 on any port, app://, file://, tauri://, vscode-webview://, vscode-file://. Defaults to none.",
  OLLAMA_ORIGINS: "Ollama's variable for the same; both lists are added to the defaults.",
  CORRAL_VERSION_HEADER:
    'When responses carry x-corral-version: authenticated (only to callers the guard let in: API key, session or anonymous loopback), always, or off. Defaults to authenticated.',
} as const;

const ORIGIN_RULE = 'comma-separated origins like https://app.example.com, http://*.example.com or *';

function parseOrigins(value: string | undefined): string[] | undefined {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const raw of value.split(',')) {
    const o = raw.trim();
    if (o === '') continue;
    if (o !== '*' && !/^[a-z][a-z0-9+.-]*:\/\/[^\s/]*\/?$/i.test(o)) return undefined;
    out.push(o);
  }
  return out;
}

export const HTTP_ENV_SCHEMA = {
  CORRAL_ORIGINS: z
    .string()
    .refine((v) => parseOrigins(v) !== undefined, ORIGIN_RULE)
    .optional(),
  OLLAMA_ORIGINS: z
    .string()
    .refine((v) => parseOrigins(v) !== undefined, ORIGIN_RULE)
    .optional(),
  CORRAL_VERSION_HEADER: z.enum(['authenticated', 'always', 'off']).default('authenticated'),
};

export interface HttpConfig {
  /** Origins added to the defaults (CORRAL_ORIGINS, then OLLAMA_ORIGINS). */
  origins: string[];
  /** Who sees x-corral-version. Defaults to 'authenticated'. */
  versionHeader: 'authenticated' | 'always' | 'off';
}

export function httpConfig(e: {
  CORRAL_ORIGINS?: string;
  OLLAMA_ORIGINS?: string;
  CORRAL_VERSION_HEADER: HttpConfig['versionHeader'];
}): HttpConfig {
  return {
    origins: [...(parseOrigins(e.CORRAL_ORIGINS) ?? []), ...(parseOrigins(e.OLLAMA_ORIGINS) ?? [])],
    versionHeader: e.CORRAL_VERSION_HEADER,
  };
}
