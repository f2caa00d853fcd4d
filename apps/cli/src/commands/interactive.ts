/**
 * The interactive `corral run` loop over Node's readline. Parsing and session state live in
 * repl/ (pure); this file only reads lines, prints, and calls the server.
 */
import * as readline from 'node:readline';
import type { ShowResponse } from '../api-types';
import { ApiError, type CorralClient } from '../client';
import type { ReplCommand } from '../repl/commands';
import { InputAssembler } from '../repl/input';
import type { ReplSession } from '../repl/session';
import { loadModel, notFoundAs, streamChat, type Terminal } from './chat';
import { HELP, HELP_PARAMETERS, HELP_SET, HELP_SHORTCUTS, HELP_SHOW, showInSession } from './repl-help';

export interface InteractiveIO extends Terminal {
  input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
}

/** Lines from readline, queued so a burst (a paste) is not lost between reads. */
class LineQueue {
  private lines: string[] = [];
  private closed = false;
  private wake?: () => void;

  constructor(rl: readline.Interface) {
    rl.on('line', (l) => {
      this.lines.push(l);
      this.wake?.();
    });
    rl.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  /** Every line available now (a paste arrives as several at once); null at end of input. */
  async next(): Promise<string[] | null> {
    while (this.lines.length === 0) {
      if (this.closed) return null;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
    return this.lines.splice(0);
  }
}

export async function interactive(
  client: CorralClient,
  session: ReplSession,
  io: InteractiveIO,
): Promise<void> {
  const rl = readline.createInterface({
    input: io.input,
    output: io.out as NodeJS.WritableStream,
    terminal: true,
    historySize: 1000,
  });
  const queue = new LineQueue(rl);
  const assembler = new InputAssembler();
  let turn: AbortController | undefined;

  const prompt = () => {
    rl.setPrompt(assembler.inMultiline ? '... ' : '>>> ');
    rl.prompt();
  };
  rl.on('SIGINT', () => {
    if (turn) return turn.abort();
    if (rl.line === '' && !assembler.inMultiline) io.out.write('\nUse Ctrl + d or /bye to exit.\n');
    else io.out.write('\n');
    rl.write(null, { ctrl: true, name: 'u' });
    assembler.reset();
    prompt();
  });
  // While an answer streams, readline is paused and the terminal back in cooked mode, so Ctrl-C
  // arrives as a signal: it stops the answer, not the program.
  const onSignal = () => turn?.abort();
  process.on('SIGINT', onSignal);

  const say = (s: string) => io.out.write(s.endsWith('\n') || s === '' ? s : s + '\n');

  const runTurn = async (text: string) => {
    turn = new AbortController();
    rl.pause();
    io.input.setRawMode?.(false);
    try {
      const result = await streamChat(client, session.userTurn(text), io, {
        wordWrap: session.wordWrap,
        verbose: session.verbose,
        signal: turn.signal,
      });
      session.assistantTurn(result.content, result.thinking);
    } catch (err) {
      session.assistantTurn(undefined);
      if (!(err instanceof ApiError)) throw err;
      say(`Error: ${err.message}`);
    } finally {
      turn = undefined;
      io.input.setRawMode?.(true);
      rl.resume();
    }
  };

  const command = async (cmd: ReplCommand): Promise<'bye' | void> => {
    switch (cmd.type) {
      case 'bye':
        return 'bye';
      case 'message': {
        const usage = { main: HELP, set: HELP_SET, show: HELP_SHOW, parameters: HELP_PARAMETERS };
        say(cmd.usage ? usage[cmd.usage] : cmd.text);
        return;
      }
      case 'help':
        say(
          cmd.topic === 'set'
            ? HELP_SET
            : cmd.topic === 'show'
              ? HELP_SHOW
              : cmd.topic === 'shortcuts'
                ? HELP_SHORTCUTS
                : HELP,
        );
        return;
      case 'set-parameter':
        return void say(session.setParameter(cmd.name, cmd.values));
      case 'set-system':
        return void say(session.setSystem(cmd.text));
      case 'set-system-start':
        return; // handled by the assembler
      case 'set-flag':
        return void say(session.setFlag(cmd.flag));
      case 'set-think':
        return void say(session.setThink(cmd.level));
      case 'set-format':
        return void say(session.setFormat(cmd.format));
      case 'clear':
        return void say(session.clear());
      case 'show': {
        let info: ShowResponse;
        try {
          info = await client.show(session.model, { system: session.system, options: session.options });
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          return void say(`error: couldn't get model: ${err.message}`);
        }
        return void say(showInSession(cmd.topic, info, session));
      }
      case 'load': {
        say(`Loading model '${cmd.name}'`);
        try {
          await client.show(cmd.name).catch((e: unknown) => Promise.reject(notFoundAs(e, cmd.name)));
          await loadModel(client, cmd.name, session.keepAlive, io.err);
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          return void say(err.status === 404 ? `Couldn't find model '${cmd.name}'` : `error: ${err.message}`);
        }
        session.load(cmd.name);
        return;
      }
      case 'save': {
        try {
          for await (const _ of client.create(session.saveRequest(cmd.name))) {
            // progress lines are not shown for /save, as in Ollama
          }
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          return void say(`error: ${err.message}`);
        }
        return void say(`Created new model '${cmd.name}'`);
      }
    }
  };

  try {
    prompt();
    for (;;) {
      const lines = await queue.next();
      if (lines === null) {
        io.out.write('\n');
        return;
      }
      // Several plain lines at once are a paste: one message, as a terminal with bracketed
      // paste would deliver it.
      const first = lines[0] ?? '';
      const batch =
        lines.length > 1 && !assembler.inMultiline && !first.startsWith('/') && !first.startsWith('"""')
          ? [lines.join('\n')]
          : lines;
      for (const line of batch) {
        const input = assembler.feed(line);
        if (input.kind === 'prompt') await runTurn(input.text);
        else if (input.kind === 'command' && (await command(input.command)) === 'bye') return;
      }
      prompt();
    }
  } finally {
    process.off('SIGINT', onSignal);
    rl.close();
  }
}
