import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChunkBatch, chunkBatchingSender, unpackChunkBatch } from '@corral/worker-protocol';
import type { FromWorker } from '@corral/worker-protocol';
import { ChildProcessWorkerLink } from './worker-link';

const chunk = (id: string, text: string): FromWorker => ({ type: 'chunk', id, text, tokens: 1 });
const done = (id: string): FromWorker => ({
  type: 'done',
  id,
  doneReason: 'stop',
  promptTokens: 1,
  completionTokens: 2,
  cachedTokens: 0,
  loadDurationNs: 0,
  promptEvalDurationNs: 0,
  evalDurationNs: 0,
});
const nextTurn = () => new Promise((r) => setImmediate(r));

describe('chunkBatchingSender', () => {
  it('sends the chunks of one turn as one envelope, in order, and a lone chunk as itself', async () => {
    const sent: (FromWorker | ChunkBatch)[] = [];
    const send = chunkBatchingSender((m) => sent.push(m));
    send(chunk('a', 'x'));
    send(chunk('b', 'y'));
    send(chunk('c', 'z'));
    expect(sent).toEqual([]);
    await nextTurn();
    expect(sent).toEqual([{ type: 'chunks', chunks: [chunk('a', 'x'), chunk('b', 'y'), chunk('c', 'z')] }]);
    send(chunk('a', 'w'));
    await nextTurn();
    expect(sent[1]).toEqual(chunk('a', 'w'));
  });

  it("flushes waiting chunks before any other message, so a job's chunks precede its done", async () => {
    const sent: (FromWorker | ChunkBatch)[] = [];
    const send = chunkBatchingSender((m) => sent.push(m));
    send(chunk('a', 'x'));
    send(chunk('b', 'y'));
    send(done('a'));
    expect(sent).toEqual([{ type: 'chunks', chunks: [chunk('a', 'x'), chunk('b', 'y')] }, done('a')]);
    await nextTurn();
    expect(sent).toHaveLength(2);
  });
});

describe('ChildProcessWorkerLink', () => {
  it('unpacks an envelope from a real worker process into the messages it carries, checking each', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'corral-chunks-'));
    const entry = join(dir, 'worker.js');
    const messages = [
      {
        type: 'chunks',
        chunks: [chunk('a', 'one'), chunk('b', 'two'), { type: 'chunk', id: 'c', text: 3, tokens: 1 }],
      },
      done('a'),
    ];
    await writeFile(
      entry,
      `for (const m of ${JSON.stringify(messages)}) process.send(m);\nprocess.on('message', () => process.exit(0));\n`,
    );
    const logs: string[] = [];
    const link = new ChildProcessWorkerLink({ id: 'w-test', entry, log: (l) => logs.push(l) });
    try {
      const got: FromWorker[] = [];
      await new Promise<void>((resolve) =>
        link.onMessage((m) => {
          got.push(m);
          if (m.type === 'done') resolve();
        }),
      );
      expect(got).toEqual([chunk('a', 'one'), chunk('b', 'two'), done('a')]);
      expect(logs.join('\n')).toContain('invalid message');
    } finally {
      await link.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('passes anything that is not an envelope through unchanged', () => {
    expect(unpackChunkBatch(done('x'))).toEqual([done('x')]);
    expect(unpackChunkBatch({ type: 'chunks', chunks: 'no' })).toEqual([{ type: 'chunks', chunks: 'no' }]);
    expect(unpackChunkBatch(null)).toEqual([null]);
  });
});
