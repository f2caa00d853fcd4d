/**
 * Minimal HTTP clients for the benchmarks: node:http with a keep-alive agent (no SDK in the timed
 * path), and a streaming POST that timestamps every NDJSON line or SSE event as it arrives.
 */
import { Agent, request } from 'node:http';

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export interface StreamEvent {
  /** ms since the request was sent. */
  at: number;
  data: Record<string, unknown>;
}

export interface StreamResult {
  status: number;
  events: StreamEvent[];
  totalMs: number;
}

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * POSTs `body` and collects the response as NDJSON lines or SSE `data:` events (chosen by the
 * response content type), each parsed and stamped with its arrival time. `[DONE]` is dropped.
 */
export async function streamPost(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<StreamResult> {
  try {
    return await streamPostOnce(url, body, headers, timeoutMs);
  } catch (e) {
    // A kept-alive socket the server closed while it sat idle (llama-server's cpp-httplib drops them
    // after 5 s) fails before any response: that request never reached the server, so send it again.
    if ((e as { reusedSocket?: boolean }).reusedSocket) return streamPostOnce(url, body, headers, timeoutMs);
    throw e;
  }
}

function streamPostOnce(
  url: string,
  body: unknown,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<StreamResult> {
  const payload = JSON.stringify(body);
  const start = now();
  let responded = false;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          ...headers,
        },
        timeout: timeoutMs,
      },
      (res) => {
        responded = true;
        const sse = String(res.headers['content-type'] ?? '').includes('event-stream');
        const events: StreamEvent[] = [];
        let buf = '';
        const take = (line: string, at: number) => {
          let text = line.trim();
          if (sse) {
            if (!text.startsWith('data:')) return;
            text = text.slice(5).trim();
            if (text === '[DONE]') return;
          }
          if (!text) return;
          try {
            events.push({ at, data: JSON.parse(text) as Record<string, unknown> });
          } catch {
            events.push({ at, data: { raw: text } });
          }
        };
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const at = now() - start;
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            take(buf.slice(0, i), at);
            buf = buf.slice(i + 1);
          }
        });
        res.on('end', () => {
          take(buf, now() - start);
          resolve({ status: res.statusCode ?? 0, events, totalMs: now() - start });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms: POST ${url}`)));
    req.on('error', (e: Error & { code?: string; reusedSocket?: boolean }) => {
      if (req.reusedSocket && !responded && e.code === 'ECONNRESET') e.reusedSocket = true;
      reject(e);
    });
    req.end(payload);
  });
}

/** A JSON request; rejects on a non-2xx status with the body in the message. */
export function jsonRequest<T = Record<string, unknown>>(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<T> {
  const payload =
    body === undefined
      ? undefined
      : typeof body === 'string' || Buffer.isBuffer(body)
        ? body
        : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        agent,
        headers: {
          ...(payload !== undefined ? { 'content-length': Buffer.byteLength(payload) } : {}),
          ...(payload !== undefined && !Buffer.isBuffer(payload)
            ? { 'content-type': 'application/json' }
            : {}),
          ...headers,
        },
        timeout: timeoutMs,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (b: Buffer) => parts.push(b));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) return reject(new Error(`${method} ${url}: ${status} ${text}`));
          try {
            resolve((text ? JSON.parse(text) : {}) as T);
          } catch {
            resolve({ raw: text } as T);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms: ${method} ${url}`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Polls `url` until it answers 200 or the deadline passes; returns ms waited. */
export async function waitFor200(url: string, deadlineMs: number, everyMs = 10): Promise<number> {
  const start = now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = request(url, { method: 'GET', agent }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.end();
    });
    if (ok) return now() - start;
    if (now() - start > deadlineMs) throw new Error(`${url} not ready after ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function closeAgent(): void {
  agent.destroy();
}
