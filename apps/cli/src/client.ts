/**
 * Typed client of the gateway's Ollama-dialect REST API, on Node's fetch. Streaming endpoints
 * answer NDJSON; `readNdjson` turns a body into objects and surfaces an `{"error": ...}` line as an
 * exception, because Ollama servers report failures that happen mid-stream that way (after the
 * 200 status has already been sent).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { clientBaseUrl } from '@corral/config';
import type {
  ChatRequest,
  ChatResponse,
  CreateRequest,
  GenerateRequest,
  GenerateResponse,
  ListResponse,
  ProgressResponse,
  PsResponse,
  ShowResponse,
} from './api-types';

/** The server answered with an error (HTTP status, or an error line in a stream). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Nothing answered at the base URL. */
export class ConnectError extends Error {
  constructor(readonly baseUrl: string) {
    super(`could not connect to corral at ${baseUrl} — is \`corral serve\` running?`);
    this.name = 'ConnectError';
  }
}

/**
 * Parses an NDJSON body. Lines may arrive split across chunks (and several in one chunk); a
 * multi-byte character may straddle chunks too, hence the streaming decoder.
 */
export async function* readNdjson<T = unknown>(
  body: AsyncIterable<Uint8Array | string>,
  status?: number,
): AsyncGenerator<T> {
  const decoder = new TextDecoder();
  let pending = '';
  const parse = (line: string): T => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new ApiError(`invalid response from server: ${line.slice(0, 200)}`, status);
    }
    if (value && typeof value === 'object' && 'error' in value) {
      const err = (value as { error: unknown }).error;
      throw new ApiError(typeof err === 'string' ? err : JSON.stringify(err), status);
    }
    return value as T;
  };
  for await (const chunk of body) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line) yield parse(line);
    }
  }
  pending += decoder.decode();
  if (pending.trim()) yield parse(pending.trim());
}

/**
 * The key to send: CORRAL_API_KEY, else the admin key `corral serve` writes to
 * $CORRAL_HOME/admin.key (so the operator's own CLI works on the machine it serves from).
 */
export function resolveApiKey(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CORRAL_API_KEY) return env.CORRAL_API_KEY.trim();
  const home = env.CORRAL_HOME || join(homedir(), '.corral');
  try {
    const key = readFileSync(join(home, 'admin.key'), 'utf8').trim();
    return key || undefined;
  } catch {
    return undefined;
  }
}

export interface ClientOptions {
  baseUrl: string;
  apiKey?: string;
}

type Body = Record<string, unknown> | object;

export class CorralClient {
  readonly baseUrl: string;
  private readonly apiKey?: string;

  constructor(opts: ClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.apiKey = opts.apiKey;
  }

  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): CorralClient {
    return new CorralClient({ baseUrl: clientBaseUrl(env), apiKey: resolveApiKey(env) });
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { ...extra };
    if (this.apiKey) h.authorization = `Bearer ${this.apiKey}`;
    return h;
  }

  /** fetch, with refusals and DNS failures turned into one readable error. */
  async send(path: string, init: RequestInit & { duplex?: 'half' }): Promise<Response> {
    try {
      return await fetch(this.baseUrl + path, init);
    } catch (err) {
      // By name, not instanceof: fetch's errors may come from another realm (vm contexts).
      const name = (err as { name?: unknown } | null)?.name;
      if (name === 'TypeError') throw new ConnectError(this.baseUrl);
      throw err;
    }
  }

  private async fail(res: Response): Promise<never> {
    const text = await res.text().catch(() => '');
    let message = text.trim() || res.statusText || `HTTP ${res.status}`;
    try {
      const parsed = JSON.parse(text) as { error?: unknown };
      if (typeof parsed.error === 'string') message = parsed.error;
      else if (parsed.error && typeof parsed.error === 'object' && 'message' in parsed.error)
        message = String((parsed.error as { message: unknown }).message);
    } catch {
      // not JSON: keep the raw text
    }
    throw new ApiError(message, res.status);
  }

  async json<T>(method: string, path: string, body?: Body, signal?: AbortSignal): Promise<T> {
    const res = await this.send(path, {
      method,
      headers: this.headers(body ? { 'content-type': 'application/json' } : {}),
      body: body ? JSON.stringify(body) : undefined,
      signal,
    });
    if (!res.ok) await this.fail(res);
    const text = await res.text();
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** A GET whose answer is not JSON (e.g. a CSV export), as text. */
  async text(path: string, signal?: AbortSignal): Promise<string> {
    const res = await this.send(path, { method: 'GET', headers: this.headers(), signal });
    if (!res.ok) await this.fail(res);
    return res.text();
  }

  async *stream<T>(path: string, body: Body, signal?: AbortSignal): AsyncGenerator<T> {
    const res = await this.send(path, {
      method: 'POST',
      headers: this.headers({ 'content-type': 'application/json' }),
      body: JSON.stringify(body),
      signal,
    });
    if (!res.ok) await this.fail(res);
    if (!res.body) return;
    yield* readNdjson<T>(res.body as unknown as AsyncIterable<Uint8Array>, res.status);
  }

  list(): Promise<ListResponse> {
    return this.json('GET', '/api/tags');
  }

  ps(): Promise<PsResponse> {
    return this.json('GET', '/api/ps');
  }

  show(
    model: string,
    extra: { verbose?: boolean; system?: string; options?: object } = {},
  ): Promise<ShowResponse> {
    return this.json('POST', '/api/show', { model, ...extra });
  }

  async copy(source: string, destination: string): Promise<void> {
    await this.json('POST', '/api/copy', { source, destination });
  }

  async delete(model: string): Promise<void> {
    await this.json('DELETE', '/api/delete', { model });
  }

  generate(req: GenerateRequest, signal?: AbortSignal): AsyncGenerator<GenerateResponse> {
    return this.stream('/api/generate', req, signal);
  }

  chat(req: ChatRequest, signal?: AbortSignal): AsyncGenerator<ChatResponse> {
    return this.stream('/api/chat', req, signal);
  }

  create(req: CreateRequest, signal?: AbortSignal): AsyncGenerator<ProgressResponse> {
    return this.stream('/api/create', { ...req, stream: true }, signal);
  }

  /** HEAD /api/blobs/<digest>: true when the server already holds the blob. */
  async blobExists(digest: string): Promise<boolean> {
    const res = await this.send(`/api/blobs/${digest}`, { method: 'HEAD', headers: this.headers() });
    if (res.ok) return true;
    if (res.status === 404) return false;
    return this.fail(res);
  }

  /** Streams a blob up; the server checks the digest, so a corrupt upload is refused there. */
  async uploadBlob(digest: string, body: AsyncIterable<Uint8Array>, size?: number): Promise<void> {
    const stream = ReadableStream.from(body);
    const headers = this.headers({ 'content-type': 'application/octet-stream' });
    if (size !== undefined) headers['content-length'] = String(size);
    const res = await this.send(`/api/blobs/${digest}`, {
      method: 'POST',
      headers,
      body: stream as unknown as RequestInit['body'],
      duplex: 'half',
    });
    if (!res.ok) await this.fail(res);
    await res.arrayBuffer();
  }
}
