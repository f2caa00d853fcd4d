/**
 * `corral run MODEL [PROMPT...]`: one-shot when a prompt is given or stdin/stdout is not a
 * terminal (piped text is prepended to the prompt, as Ollama does), else an interactive session.
 */
import { parseDuration } from '@corral/config';
import type { Message, Think } from '../api-types';
import type { CorralClient } from '../client';
import { ReplSession } from '../repl/session';
import { WordWrapper } from '../wrap';
import { loadModel, notFoundAs, streamChat } from './chat';
import { interactive, type InteractiveIO } from './interactive';

export interface RunFlags {
  format?: string;
  /** Commander's negation of --nowordwrap. */
  wordwrap?: boolean;
  nowordwrap?: boolean;
  verbose?: boolean;
  keepalive?: string;
  think?: boolean;
  hidethinking?: boolean;
}

/** --keepalive as the API takes it: seconds as a number, a Go duration as a string. */
export function parseKeepAlive(raw: string | undefined): string | number | undefined {
  if (raw === undefined) return undefined;
  const s = raw.trim();
  if (parseDuration(s) === undefined) throw new Error(`invalid duration "${raw}" (use e.g. 5m, 1h, 30s, -1)`);
  return /^-?\d+(\.\d+)?$/.test(s) ? Number(s) : s;
}

/** --format: "json" or a JSON schema. */
export function parseFormat(raw: string | undefined): string | object | undefined {
  if (!raw) return undefined;
  if (raw === 'json') return 'json';
  try {
    const schema: unknown = JSON.parse(raw);
    if (schema && typeof schema === 'object') return schema;
  } catch {
    // fall through
  }
  throw new Error(`invalid format "${raw}": use "json" or a JSON schema`);
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export async function runCommand(
  client: CorralClient,
  model: string,
  promptWords: string[],
  flags: RunFlags,
  io: InteractiveIO,
): Promise<void> {
  const keepAlive = parseKeepAlive(flags.keepalive);
  const format = parseFormat(flags.format);
  let wordWrap = !(flags.nowordwrap || flags.wordwrap === false);
  const think: Think | undefined = flags.think;

  const prompts = [...promptWords];
  let isInteractive = prompts.length === 0;
  if (!io.input.isTTY) {
    prompts.unshift(await readAll(io.input));
    isInteractive = false;
    wordWrap = false;
  }
  if (!io.out.isTTY) isInteractive = false;
  const prompt = prompts.join(' ');

  const info = await client.show(model).catch((e: unknown) => Promise.reject(notFoundAs(e, model)));

  if (!isInteractive) {
    if (!prompt.trim()) return loadModel(client, model, keepAlive, io.err);
    const messages: Message[] = [{ role: 'user', content: prompt }];
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.on('SIGINT', onSignal);
    try {
      await streamChat(
        client,
        {
          model,
          messages,
          ...(format ? { format } : {}),
          ...(keepAlive !== undefined ? { keep_alive: keepAlive } : {}),
          ...(think !== undefined ? { think } : {}),
        },
        io,
        {
          wordWrap,
          verbose: Boolean(flags.verbose),
          hideThinking: flags.hidethinking,
          signal: controller.signal,
        },
      );
    } finally {
      process.off('SIGINT', onSignal);
    }
    return;
  }

  await loadModel(client, model, keepAlive, io.err);
  const session = new ReplSession({
    model,
    format,
    keepAlive,
    think,
    verbose: flags.verbose,
    wordWrap,
  });
  // A model saved from a session shows its conversation, as `ollama run` does; the server
  // prepends those messages to every request itself, so the session does not resend them.
  const width = wordWrap ? (io.out.columns ?? 0) : 0;
  for (const msg of info.messages ?? []) {
    if (msg.role === 'user') io.out.write(`>>> ${msg.content}\n`);
    else if (msg.role === 'assistant') io.out.write(new WordWrapper(width).push(msg.content) + '\n\n');
  }
  await interactive(client, session, io);
}
