/**
 * HTTP client of one registry speaking the OCI distribution API (a Corral node, or Ollama's
 * registry protocol). It sends the source's key, never follows a redirect to another origin, and
 * turns the registry's errors ({errors:[{code,message}]}) into CorralErrors with a readable message.
 */
import { CorralError, type ErrorCode } from '@corral/common';
import { MEDIA_TYPES } from '@corral/registry';
import type { ResolvedSource } from './sources';

/** Largest manifest accepted from a registry. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_REDIRECTS = 3;

export interface RegistryRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string | AsyncIterable<Uint8Array>;
  signal?: AbortSignal;
}

export class RegistryClient {
  readonly origin: string;
  private readonly key?: string;

  constructor(source: ResolvedSource) {
    this.origin = source.origin;
    this.key = source.key;
  }

  /** `/v2/<repository>/...` for a path under the repository. */
  repoUrl(repository: string, rest: string): string {
    return `${this.origin}/v2/${repository}/${rest}`;
  }

  /**
   * One request. Redirects are followed only within the source's origin; a redirect elsewhere is
   * refused (403), so an allow-listed host cannot bounce Corral to a host that is not.
   */
  async fetch(url: string, req: RegistryRequest = {}): Promise<Response> {
    let target = url;
    for (let hop = 0; ; hop++) {
      if (new URL(target).origin !== this.origin)
        throw new CorralError(
          'forbidden',
          `registry ${this.origin} sent Corral to another host (${new URL(target).origin}); refused`,
        );
      const headers: Record<string, string> = { ...req.headers };
      if (this.key) headers.authorization = `Bearer ${this.key}`;
      let res: Response;
      try {
        res = await fetch(target, {
          method: req.method ?? 'GET',
          headers,
          body: (req.body && typeof req.body === 'object' && Symbol.asyncIterator in req.body
            ? ReadableStream.from(req.body)
            : req.body) as RequestInit['body'],
          redirect: 'manual',
          signal: req.signal,
          ...(req.body ? { duplex: 'half' } : {}),
        } as RequestInit);
      } catch (e) {
        if (req.signal?.aborted) throw e;
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        throw new CorralError(
          'unavailable',
          `cannot reach registry ${this.origin}: ${cause?.code ?? cause?.message ?? (e as Error).message}`,
        );
      }
      if (res.status < 300 || res.status >= 400 || res.status === 304) return res;
      const location = res.headers.get('location');
      await res.body?.cancel().catch(() => undefined);
      if (!location || hop >= MAX_REDIRECTS || req.body)
        throw new CorralError(
          'unavailable',
          `registry ${this.origin} answered ${res.status} without a usable redirect`,
        );
      target = new URL(location, target).toString();
    }
  }

  /** The manifest's bytes, exactly as served (its digest is theirs). */
  async getManifest(repository: string, tag: string, signal?: AbortSignal): Promise<Buffer> {
    const res = await this.fetch(this.repoUrl(repository, `manifests/${tag}`), {
      headers: { accept: MEDIA_TYPES.manifest },
      signal,
    });
    if (!res.ok) await this.fail(res, `manifest ${repository}:${tag}`);
    const length = Number(res.headers.get('content-length') ?? '0');
    if (length > MAX_MANIFEST_BYTES)
      throw new CorralError('bad_request', `manifest of ${repository}:${tag} is too large`);
    const bytes = Buffer.from(await res.arrayBuffer());
    if (bytes.length > MAX_MANIFEST_BYTES)
      throw new CorralError('bad_request', `manifest of ${repository}:${tag} is too large`);
    return bytes;
  }

  /** Whether the registry has the blob (HEAD). */
  async hasBlob(repository: string, digest: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.fetch(this.repoUrl(repository, `blobs/${digest}`), { method: 'HEAD', signal });
    if (res.status === 404) return false;
    if (!res.ok) await this.fail(res, `blob ${digest}`);
    return true;
  }

  /** Throws the registry's error as a CorralError with the same status class. */
  async fail(res: Response, what: string): Promise<never> {
    const text = await res.text().catch(() => '');
    let detail = text.trim().slice(0, 300);
    try {
      const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[]; error?: string };
      const first = body.errors?.[0];
      if (first) detail = [first.code, first.message].filter(Boolean).join(': ');
      else if (typeof body.error === 'string') detail = body.error;
    } catch {
      // not JSON: keep the text
    }
    const code: ErrorCode =
      // The remote refusing Corral's key is not the local caller's authentication failing.
      res.status === 401 || res.status === 403
        ? 'forbidden'
        : res.status === 404
          ? 'model_not_found'
          : res.status >= 500
            ? 'unavailable'
            : 'bad_request';
    throw new CorralError(
      code,
      `registry ${this.origin} refused ${what}: ${res.status}${detail ? ` ${detail}` : ''}`,
    );
  }
}
