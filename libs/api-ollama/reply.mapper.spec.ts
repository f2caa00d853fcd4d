import Fastify from 'fastify';
import { CorralError } from '@corral/common';
import type { DoneResult, GenerationEvent } from '@corral/worker-protocol';
import { primed, streamReply } from '@corral/serving';
import { NDJSON, OllamaReply, ollamaPieces } from './reply.mapper';

const DONE: DoneResult = {
  type: 'done',
  id: 'job-1',
  doneReason: 'stop',
  promptTokens: 4,
  completionTokens: 2,
  cachedTokens: 0,
  loadDurationNs: 0,
  promptEvalDurationNs: 1,
  evalDurationNs: 1,
};

async function* run(pieces: string[], end: DoneResult | Error = DONE): AsyncGenerator<GenerationEvent> {
  for (const text of pieces) yield { type: 'chunk', text, tokens: 1 };
  if (end instanceof Error) throw end;
  yield end;
}

const meter = { setOutput: () => undefined, fail: () => undefined };
const reply = (over: Partial<ConstructorParameters<typeof OllamaReply>[0]> = {}) =>
  new OllamaReply({ kind: 'chat', model: 'm', streaming: true, think: false, start: 0n, ...over });

/** Serves one Ollama chat stream over a real socket, as the gateway does. */
async function serve(events: () => AsyncGenerator<GenerationEvent>) {
  const app = Fastify({ forceCloseConnections: true });
  app.get('/s', async (_req, r) => {
    try {
      await streamReply(r, ollamaPieces(await primed(events()), reply(), meter), NDJSON, meter);
    } catch (e) {
      await r.status((e as CorralError).status ?? 500).send({ error: (e as Error).message });
    }
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const res = await fetch(`${url}/s`);
  const body = await res.text();
  await app.close();
  return { status: res.status, body };
}

describe('Ollama stream', () => {
  it('answers a run that fails before its first token with an HTTP error', async () => {
    const res = await serve(() => run([], new CorralError('bad_request', 'prompt too long')));
    expect(res).toEqual({ status: 400, body: JSON.stringify({ error: 'prompt too long' }) });
  });

  it('reports a failure after the first token in-band, as a last {"error"} line', async () => {
    const res = await serve(() => run(['Hel'], new CorralError('worker_failed', 'worker stopped')));
    expect(res.status).toBe(200);
    const lines = res.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ message: { role: 'assistant', content: 'Hel' }, done: false });
    expect(lines[1]).toEqual({ error: 'worker stopped' });
  });

  it('holds back a tool call and sends it with the final object', async () => {
    const tools = [{ name: 'get_time', parameters: { type: 'object' } }];
    const out = reply({ tools });
    const pieces = [];
    for await (const p of ollamaPieces(
      run(['<tool_call>{"name": "get_time"', ', "arguments": {}}']),
      out,
      meter,
    ))
      pieces.push(p);
    expect(pieces).toHaveLength(1);
    expect(pieces[0]).toMatchObject({
      done: true,
      message: { content: '', tool_calls: [{ function: { index: 0, name: 'get_time', arguments: {} } }] },
    });
  });

  it('splits thinking from content when asked', async () => {
    const out = reply({ streaming: false, think: true });
    let last: Record<string, unknown> | undefined;
    for await (const p of ollamaPieces(run(['<think>hmm</think>', 'Hi']), out, meter)) last = p;
    expect(last).toMatchObject({
      message: { role: 'assistant', content: 'Hi', thinking: 'hmm' },
      done: true,
    });
  });
});
