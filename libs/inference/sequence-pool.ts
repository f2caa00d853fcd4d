import type { LlamaContextSequence, Token } from 'node-llama-cpp';

interface Waiter {
  resolve: (seq: LlamaContextSequence) => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
  onAbort: () => void;
}

/**
 * The sequences of one context. The gateway admits at most numParallel jobs per model, but a load
 * race or a second gateway can exceed that, so extra jobs wait here in FIFO order instead of failing.
 * A free sequence keeps its tokens (KV cache), and `acquire` hands out the one sharing the longest
 * prefix with the new prompt, so follow-up turns of a conversation skip re-evaluating the history.
 */
export class SequencePool {
  private readonly free: LlamaContextSequence[];
  private readonly waiters: Waiter[] = [];
  private closed = false;

  constructor(sequences: LlamaContextSequence[]) {
    this.free = [...sequences];
  }

  acquire(prompt: readonly Token[], signal?: AbortSignal): Promise<LlamaContextSequence> {
    if (this.closed) return Promise.reject(new Error('model is unloading'));
    signal?.throwIfAborted();
    if (this.free.length > 0) return Promise.resolve(this.takeBest(prompt));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(signal?.reason);
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(seq: LlamaContextSequence): void {
    const next = this.waiters.shift();
    if (next) {
      next.signal?.removeEventListener('abort', next.onAbort);
      next.resolve(seq);
    } else {
      this.free.push(seq);
    }
  }

  /** Fails everything still waiting; used when the model unloads. */
  close(reason: Error): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) {
      w.signal?.removeEventListener('abort', w.onAbort);
      w.reject(reason);
    }
  }

  get waiting(): number {
    return this.waiters.length;
  }

  private takeBest(prompt: readonly Token[]): LlamaContextSequence {
    let bestIndex = 0;
    let bestLen = -1;
    this.free.forEach((seq, i) => {
      const len = seq.nextTokenIndex === 0 ? 0 : seq.compareContextTokens([...prompt]).firstDifferentIndex;
      if (len > bestLen) {
        bestLen = len;
        bestIndex = i;
      }
    });
    const [seq] = this.free.splice(bestIndex, 1);
    if (!seq) throw new Error('sequence pool is empty');
    return seq;
  }
}
