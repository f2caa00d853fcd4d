/**
 * A TCP proxy for the distribution tests: it sits between two Corral nodes, counts the bytes the
 * upstream sends back, and can misbehave on cue: cut every connection once N bytes went through
 * (and refuse new ones), stall them (the transfer hangs, as on a dead link), or flip one byte inside
 * a large body chunk (a corrupt source).
 */
import * as net from 'node:net';

export type ProxyMode =
  | { kind: 'pass' }
  | { kind: 'cut'; afterBytes: number }
  | { kind: 'refuse' }
  | { kind: 'flip'; done?: boolean }
  | { kind: 'stall'; afterBytes: number };

export class TcpProxy {
  /** Bytes forwarded from upstream to the client since the last reset. */
  downstreamBytes = 0;
  /** Connections accepted since the last reset. */
  connections = 0;
  mode: ProxyMode = { kind: 'pass' };
  /** True once a 'stall' mode has stopped a transfer. */
  stalled = false;
  private readonly sockets = new Set<net.Socket>();
  private server?: net.Server;
  port = 0;

  constructor(private readonly upstreamPort: number) {}

  async start(port = 0): Promise<number> {
    this.server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  reset(mode: ProxyMode = { kind: 'pass' }): void {
    this.downstreamBytes = 0;
    this.connections = 0;
    this.stalled = false;
    this.mode = mode;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private cutAll(): void {
    this.mode = { kind: 'refuse' };
    for (const s of this.sockets) s.destroy();
  }

  private accept(client: net.Socket): void {
    this.connections++;
    if (this.mode.kind === 'refuse') {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.upstreamPort, '127.0.0.1');
    this.sockets.add(client);
    this.sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    let stalled = false;
    upstream.on('data', (chunk: Buffer) => {
      const mode = this.mode;
      if (mode.kind === 'refuse') return drop();
      // A stalled connection stays stalled: nothing more reaches the client, nothing is closed.
      if (stalled) return;
      if (mode.kind === 'stall' && this.downstreamBytes >= mode.afterBytes) {
        stalled = true;
        this.stalled = true;
        upstream.pause();
        return;
      }
      let out = chunk;
      // Body chunks of a large blob are big; headers are small. Flip one byte in the middle of the
      // first big chunk, once.
      if (mode.kind === 'flip' && !mode.done && chunk.length >= 16384) {
        out = Buffer.from(chunk);
        const i = out.length >> 1;
        out[i] = out[i]! ^ 0xff;
        mode.done = true;
      }
      this.downstreamBytes += out.length;
      client.write(out);
      if (mode.kind === 'cut' && this.downstreamBytes >= mode.afterBytes) this.cutAll();
    });
  }
}

/** A port that was free a moment ago (the node is started on it right away). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Counts connection attempts; answers nothing. Proves a refused pull never reached it. */
export class ConnectionSink {
  connections = 0;
  private server = net.createServer((s) => {
    this.connections++;
    s.destroy();
  });
  port = 0;

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
