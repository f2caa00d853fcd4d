/**
 * Streaming one chat turn to the terminal (shared by one-shot `run` and the REPL): a spinner until
 * the first token, "Thinking..." blocks for reasoning models, word wrap, and the --verbose stats.
 */
import type { ChatRequest, ChatResponse } from '../api-types';
import { ApiError, type CorralClient } from '../client';
import { verboseStats } from '../format';
import { Progress, type ProgressOutput } from '../progress';
import { WordWrapper } from '../wrap';

export interface Terminal {
  out: ProgressOutput;
  err: ProgressOutput;
}

export interface ChatDisplay {
  wordWrap: boolean;
  verbose: boolean;
  hideThinking?: boolean;
  signal?: AbortSignal;
}

export interface ChatResult {
  /** Undefined when the turn was interrupted before it finished. */
  content?: string;
  thinking?: string;
  final?: ChatResponse;
}

const DIM = '\x1b[90m';
const RESET = '\x1b[0m';

export async function streamChat(
  client: CorralClient,
  req: ChatRequest,
  term: Terminal,
  display: ChatDisplay,
): Promise<ChatResult> {
  const tty = Boolean(term.out.isTTY);
  const width = display.wordWrap && tty ? (term.out.columns ?? 0) : 0;
  let wrap = new WordWrapper(width);
  const spinner = new Progress(term.err);
  spinner.status('');
  let content = '';
  let thinking = '';
  let thinkingOpen = false;
  let final: ChatResponse | undefined;
  try {
    for await (const chunk of client.chat({ ...req, stream: true }, display.signal)) {
      const msg = chunk.message;
      if (msg?.content || (msg?.thinking && !display.hideThinking)) spinner.stopAndClear();
      if (msg?.thinking && !display.hideThinking) {
        if (!thinkingOpen) {
          term.out.write(tty ? `${DIM}Thinking...\n` : 'Thinking...\n');
          thinkingOpen = true;
        }
        term.out.write(wrap.push(msg.thinking));
      }
      if (msg?.thinking) thinking += msg.thinking;
      if (msg?.content) {
        if (thinkingOpen) {
          const nl = thinking.endsWith('\n') ? '' : '\n';
          term.out.write(tty ? `${nl}...done thinking.${RESET}\n\n` : `${nl}...done thinking.\n\n`);
          thinkingOpen = false;
          wrap = new WordWrapper(width);
        }
        content += msg.content;
        term.out.write(wrap.push(msg.content));
      }
      if (chunk.done) final = chunk;
    }
  } catch (err) {
    spinner.stopAndClear();
    if (tty && thinkingOpen) term.out.write(RESET);
    if (display.signal?.aborted) {
      term.out.write('\n');
      return {};
    }
    throw err;
  }
  spinner.stopAndClear();
  if (tty && thinkingOpen) term.out.write(RESET);
  term.out.write('\n\n');
  if (display.verbose && final) term.err.write(verboseStats(final));
  return { content, thinking: thinking || undefined, final };
}

/**
 * Loads a model the way Ollama's client does before a session: an empty generate request,
 * which makes the server load it (and report a missing model) without producing tokens.
 */
export async function loadModel(
  client: CorralClient,
  model: string,
  keepAlive: string | number | undefined,
  err: ProgressOutput,
): Promise<void> {
  const spinner = new Progress(err);
  spinner.status('');
  try {
    const req = keepAlive === undefined ? { model } : { model, keep_alive: keepAlive };
    for await (const _ of client.generate(req)) {
      // drain: the single done chunk arrives once the model is in memory
    }
  } catch (e) {
    throw notFoundAs(e, model);
  } finally {
    spinner.stopAndClear();
  }
}

/** A 404 for the model, in the words users of `ollama run` know. */
export function notFoundAs(err: unknown, model: string): unknown {
  if (err instanceof ApiError && (err.status === 404 || /not found/i.test(err.message))) {
    return new ApiError(`model '${model}' not found`, 404);
  }
  return err;
}
