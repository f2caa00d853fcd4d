/**
 * The in-process baseline: node-llama-cpp called directly (no gateway, no IPC, no HTTP), with the
 * same load and sampling settings the worker uses.
 */
import type { Llama, LlamaContext, LlamaModel, Token } from 'node-llama-cpp';

export interface DirectRun {
  tokens: number;
  /** ms from the call to the first generated token. */
  ttftMs: number;
  /** ms between the first and the last generated token. */
  decodeMs: number;
}

export interface Tokenizer {
  tokenize(text: string): number[];
  detokenize(tokens: number[]): string;
  dispose(): Promise<void>;
}

export interface DirectEngine extends Tokenizer {
  generate(prompt: string, maxTokens: number): Promise<DirectRun>;
  dispose(): Promise<void>;
}

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export async function startDirect(
  modelPath: string,
  opts: { threads: number; contextSize: number; sequences: number },
): Promise<DirectEngine> {
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const llama: Llama = await getLlama({
    gpu: false,
    build: 'never',
    skipDownload: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.error,
  });
  llama.maxThreads = opts.threads;
  const model: LlamaModel = await llama.loadModel({ modelPath });
  const context: LlamaContext = await model.createContext({
    sequences: opts.sequences,
    contextSize: opts.contextSize,
    threads: opts.threads,
    failedCreationRemedy: false,
  });
  const seq = context.getSequence({ contextShift: { size: 0 } });
  return {
    tokenize: (text) => model.tokenize(text, false),
    detokenize: (tokens) => model.detokenize(tokens as Token[]),
    async generate(prompt, maxTokens) {
      const start = now();
      await seq.clearHistory();
      const tokens = model.tokenize(prompt, true);
      let first = 0;
      let last = 0;
      let n = 0;
      for await (const token of seq.evaluate(tokens, { temperature: 0, yieldEogToken: true })) {
        last = now();
        if (n === 0) first = last;
        if (model.isEogToken(token)) break;
        model.detokenize([token]);
        if (++n >= maxTokens) break;
      }
      return { tokens: n, ttftMs: first - start, decodeMs: last - first };
    },
    async dispose() {
      await model.dispose();
      await llama.dispose();
    },
  };
}
