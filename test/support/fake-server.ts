/**
 * A tiny HTTP server for CLI tests: records every request (method, path, headers, body) and
 * answers from a route table, so a test can assert the exact sequence the CLI sends.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed as JSON, when it is JSON. */
  json?: unknown;
}

export type Reply =
  | { status?: number; json: unknown }
  | { status?: number; ndjson: unknown[]; /** Split the output at these byte offsets. */ splitAt?: number[] }
  | { status: number };

export type Route = (req: RecordedRequest) => Reply | undefined;

export class FakeServer {
  readonly requests: RecordedRequest[] = [];
  private server?: Server;
  url = '';

  constructor(private readonly route: Route) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const rec: RecordedRequest = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body,
        };
        try {
          rec.json = body.length ? JSON.parse(body.toString('utf8')) : undefined;
        } catch {
          // binary upload
        }
        this.requests.push(rec);
        void this.answer(res, this.route(rec) ?? { status: 404, json: { error: 'no route' } });
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  private async answer(res: ServerResponse, reply: Reply): Promise<void> {
    res.statusCode = reply.status ?? 200;
    if ('json' in reply) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(reply.json));
      return;
    }
    if ('ndjson' in reply) {
      res.setHeader('content-type', 'application/x-ndjson');
      const text = Buffer.from(reply.ndjson.map((l) => JSON.stringify(l) + '\n').join(''));
      let at = 0;
      for (const cut of [...(reply.splitAt ?? []), text.length]) {
        res.write(text.subarray(at, cut));
        at = cut;
        // Let each piece leave as its own chunk.
        await new Promise((r) => setTimeout(r, 5));
      }
      res.end();
      return;
    }
    res.end();
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

/** Collects what a command writes. */
export class Capture {
  text = '';
  isTTY = false;
  columns?: number;
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}
