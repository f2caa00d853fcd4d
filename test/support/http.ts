import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { authFor } from './server';

/** Uploads a GGUF as Ollama's client does (HEAD, then POST the blob) and creates a model from it. */
export async function importModel(
  url: string,
  name: string,
  file: string,
  extra: Record<string, unknown> = {},
) {
  const data = readFileSync(file);
  const digest = 'sha256:' + createHash('sha256').update(data).digest('hex');
  const head = await fetch(`${url}/api/blobs/${digest}`, { method: 'HEAD', headers: authFor(url) });
  if (head.status === 404) {
    const up = await fetch(`${url}/api/blobs/${digest}`, {
      method: 'POST',
      body: data,
      headers: authFor(url),
    });
    if (up.status !== 201) throw new Error(`blob upload failed: ${up.status} ${await up.text()}`);
  }
  const res = await fetch(`${url}/api/create`, {
    method: 'POST',
    headers: authFor(url),
    body: JSON.stringify({ model: name, files: { [basename(file)]: digest }, stream: false, ...extra }),
  });
  if (res.status !== 200) throw new Error(`create failed: ${res.status} ${await res.text()}`);
  return digest;
}

/** JSON request; sends the test server's admin key unless `headers` is given. */
export async function postJson(
  url: string,
  body: unknown,
  method = 'POST',
  headers?: Record<string, string>,
) {
  const res = await fetch(url, {
    method,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: headers ?? authFor(url),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return {
    status: res.status,
    text,
    json: json as Record<string, unknown> | undefined,
    headers: res.headers,
  };
}

export function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] ?? 0) * (b[i] ?? 0);
    na += (a[i] ?? 0) ** 2;
    nb += (b[i] ?? 0) ** 2;
  }
  return dot / Math.sqrt(na * nb);
}
