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
 * A free sequence keeps its tokens (KV cache), and `acquire` picks which one a new prompt gets so
 * that as many cached prefixes as possible stay useful (see `chooseSequence`): a follow-up turn of a
 * conversation, or a repeated prompt, skips re-evaluating what it shares with an earlier request.
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
    const tokens = [...prompt];
    const index = chooseSequence(
      this.free.map((seq) => ({
        held: seq.nextTokenIndex,
        shared: seq.nextTokenIndex === 0 ? 0 : seq.compareContextTokens(tokens).firstDifferentIndex,
      })),
      tokens.length,
    );
    const [seq] = this.free.splice(index, 1);
    if (!seq) throw new Error('sequence pool is empty');
    return seq;
  }
}

/** A free sequence as `chooseSequence` sees it. */
export interface SequenceCandidate {
  /** Tokens in its KV cache. */
  held: number;
  /** How many of them start the new prompt (the common prefix). */
  shared: number;
}

/**
 * Which free sequence a prompt of `promptLength` tokens gets, given the candidates in
 * least-recently-released-first order:
 *
 * 1. The one sharing the longest prefix with the prompt, when that prefix is real reuse: at least two
 *    tokens (every prompt of a model starts with the same BOS, which is no reason to take a sequence),
 *    covering at least half of the new prompt or at least half of what the sequence holds. A repeated
 *    prompt (whatever was generated after it), the next turn of a conversation, or a new request that
 *    mostly repeats a long system prompt lands here (llama-server picks its slot by the same kind of
 *    prompt similarity).
 * 2. Otherwise an empty sequence, so that no other prompt's cache is destroyed for nothing.
 * 3. Otherwise the least recently released sequence (its cache is the least likely to be asked for
 *    again), unless another one shares a longer prefix with the prompt.
 *
 * Taking the longest prefix alone (as before) made two prompts that alternate, say an `/api/generate`
 * and a chat request, overwrite each other's cache in one sequence on every request while the other
 * sequences sat empty; each then re-evaluated its whole prompt (measured: +1 ms to the first token of
 * a 20-token chat prompt on stories260K).
 */
export function chooseSequence(candidates: readonly SequenceCandidate[], promptLength: number): number {
  let best = -1;
  candidates.forEach((c, i) => {
    const b = candidates[best];
    if (!b || c.shared > b.shared) best = i;
  });
  const top = candidates[best];
  if (!top) throw new Error('sequence pool is empty');
  const worthIt = top.shared * 2 >= promptLength || top.shared * 2 >= top.held;
  if (top.shared >= 2 && worthIt) return best;
  const empty = candidates.findIndex((c) => c.held === 0);
  if (empty >= 0) return empty;
  return top.shared >= 2 ? best : 0;
}
