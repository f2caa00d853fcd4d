/** The ParsePool's thread: parses one document per message. */
import { parentPort } from 'node:worker_threads';
import { parseDocument } from './parse';
import { ParseError } from './parsing.types';
import type { WorkerReply, WorkerRequest } from './pool';

parentPort?.on('message', (req: WorkerRequest) => {
  void parseDocument(req.bytes, req.filename, req.limits).then(
    (doc): void => parentPort?.postMessage({ id: req.id, ok: true, doc } satisfies WorkerReply),
    (e: unknown): void => {
      const reply: WorkerReply =
        e instanceof ParseError
          ? { id: req.id, ok: false, failure: e.failure, message: e.message }
          : { id: req.id, ok: false, failure: null, message: e instanceof Error ? e.message : String(e) };
      parentPort?.postMessage(reply);
    },
  );
});
