/**
 * HTTP as a browser (or an attacker's script) sends it: any Host, Origin, Sec-Fetch-* or Content-Type,
 * from any loopback source address, and raw bytes a client library would refuse to send.
 * `fetch` cannot set Host and adds headers of its own, so these tests use node:http and node:net.
 */
import { request } from 'node:http';
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export function send(
  base: string,
  path: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    /** Source address (any 127.x.y.z works on Linux), so tests can act as different clients. */
    from?: string;
  } = {},
): Promise<RawResponse> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
        headers: opts.headers,
        localAddress: opts.from,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Writes raw bytes and returns the status line, the headers (lower-case) and the body. */
export function sendRaw(base: string, bytes: string): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.write(bytes, 'latin1'));
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (data += c));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', ...rest] = data.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const text = rest.join('\r\n\r\n');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, text, json });
    });
  });
}

/** The headers a browser adds to a cross-site request from `origin`. */
export function crossSite(origin: string, extra: Record<string, string> = {}): Record<string, string> {
  return { origin, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', ...extra };
}
