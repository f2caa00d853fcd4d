/**
 * Turns the lines typed at the REPL into complete inputs. `"""` opens and closes a multi-line
 * message (or a multi-line `/set system """...`); until it closes, lines are collected and the
 * prompt switches to "... ". Pure, so the state machine is testable without a terminal.
 */
import { parseCommand, type ReplCommand } from './commands';

export type ReplInput =
  /** More lines are needed (show the continuation prompt). */
  | { kind: 'continue' }
  /** Nothing to do (an empty line). */
  | { kind: 'empty' }
  | { kind: 'prompt'; text: string }
  | { kind: 'command'; command: ReplCommand };

type Mode = 'none' | 'prompt' | 'system';

const TRIPLE = '"""';

export class InputAssembler {
  private mode: Mode = 'none';
  private buffer = '';

  /** True while a multi-line block is open. */
  get inMultiline(): boolean {
    return this.mode !== 'none';
  }

  /** Drops a half-typed block (Ctrl-C). */
  reset(): void {
    this.mode = 'none';
    this.buffer = '';
  }

  feed(line: string): ReplInput {
    if (this.mode !== 'none') return this.continueBlock(line);

    if (line.startsWith(TRIPLE)) {
      const rest = line.slice(TRIPLE.length);
      // `"""hello"""` on one line is a complete message; a bare `"""` opens a block.
      if (rest.length > 0 && rest.endsWith(TRIPLE)) return this.prompt(rest.slice(0, -TRIPLE.length));
      this.mode = 'prompt';
      this.buffer = rest + '\n';
      return { kind: 'continue' };
    }

    if (line.startsWith('/')) {
      const command = parseCommand(line);
      if (command.type === 'set-system-start') {
        this.mode = 'system';
        this.buffer = command.text + '\n';
        return { kind: 'continue' };
      }
      return { kind: 'command', command };
    }

    return this.prompt(line);
  }

  private continueBlock(line: string): ReplInput {
    const closes = line.endsWith(TRIPLE);
    this.buffer += closes ? line.slice(0, -TRIPLE.length) : line + '\n';
    if (!closes) return { kind: 'continue' };
    const text = this.buffer;
    const mode = this.mode;
    this.reset();
    if (mode === 'system') return { kind: 'command', command: { type: 'set-system', text } };
    return this.prompt(text);
  }

  private prompt(text: string): ReplInput {
    return text.trim() ? { kind: 'prompt', text } : { kind: 'empty' };
  }
}
