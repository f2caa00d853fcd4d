/**
 * A request in flight when the gateway is killed still leaves an audit trace. The gateway writes a
 * `request.started` record to its durable buffer (the on-disk spool here) when it admits an
 * inference or state-changing request, and the completion event when the response closes. This
 * test starts a stream, SIGKILLs the gateway and its worker mid-stream (no shutdown hook runs),
 * restarts on the same CORRAL_HOME, and finds the start record, with no completion, in
 * /admin/v1/audit; the chain still verifies.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  HOLDING_OPTIONS,
  buildTinyModels,
  importModel,
  startCorral,
  type CorralProcess,
} from '@corral/testing';

jest.setTimeout(240_000);

interface Event {
  seq: number;
  id: string;
  request_id: string | null;
  action: string;
  route: string | null;
  model: string | null;
  actor: { type: string; id: string | null };
  outcome: { status: number; error_code: string | null };
  details: Record<string, unknown> | null;
}

function children(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

describe('audit across a SIGKILL', () => {
  const home = mkdtempSync(join(tmpdir(), 'corral-killed-'));
  let corral: CorralProcess | undefined;
  const env = { OLLAMA_NUM_PARALLEL: '1', OLLAMA_CONTEXT_LENGTH: '65536' };

  afterAll(async () => {
    await corral?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('keeps the start of a request that was killed mid-stream', async () => {
    const models = await buildTinyModels();
    corral = await startCorral(env, home);
    await importModel(corral.url, 'long', models.long);

    const res = await fetch(`${corral.url}/api/generate`, {
      method: 'POST',
      headers: { ...corral.authHeaders, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'long', prompt: 'go', options: HOLDING_OPTIONS }),
    });
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toBeTruthy();
    const reader = res.body!.getReader();
    await reader.read(); // tokens are flowing: the request is mid-stream

    // Kill the gateway and its workers at once: no close hook, no flush, no final event.
    const gateway = corral.proc.pid!;
    const workers = children(gateway);
    const exited = new Promise((r) => corral!.proc.once('exit', r));
    process.kill(gateway, 'SIGKILL');
    for (const w of workers) {
      try {
        process.kill(w, 'SIGKILL');
      } catch {
        // already gone with its parent
      }
    }
    await exited;
    await reader.cancel().catch(() => undefined);

    corral = await startCorral(env, home);
    const get = async (path: string, method = 'GET') => {
      const r = await fetch(corral!.url + path, { method, headers: corral!.authHeaders });
      return { status: r.status, json: (await r.json()) as Record<string, unknown> };
    };
    // The appender writes what the spool held at restart; wait for it.
    let mine: Event[] = [];
    for (const until = Date.now() + 30_000; Date.now() < until; await sleep(200)) {
      const page = await get('/admin/v1/audit?limit=1000');
      expect(page.status).toBe(200);
      mine = (page.json.data as Event[]).filter((e) => e.request_id === requestId);
      if (mine.some((e) => e.action === 'request.started')) break;
    }
    const started = mine.find((e) => e.action === 'request.started');
    expect(started).toMatchObject({
      route: 'POST /api/generate',
      model: 'long',
      actor: { type: 'key' },
      outcome: { status: 0, error_code: null },
    });
    // Started without a completion: the request never ended on the killed gateway.
    expect(mine.filter((e) => e.action !== 'request.started')).toEqual([]);
    // The start names the completion event the request would have written; it is not there.
    const completionId = started!.details?.event_id;
    expect(typeof completionId).toBe('string');

    const verify = await get('/admin/v1/audit/verify', 'POST');
    expect(verify.status).toBe(200);
    expect(verify.json).toMatchObject({ ok: true });
  });
});
