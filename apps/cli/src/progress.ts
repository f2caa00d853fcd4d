/**
 * Spinner and progress-bar lines on stderr, after Ollama's `progress` package: a terminal gets a
 * live block redrawn in place; a pipe or file gets each line once, in its final state, so logs of
 * `corral create` read like Ollama's ("copying file sha256:... 100%", "writing manifest", ...).
 */
import { displayWidth, humanBytes } from './format';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
// Beyond this many live lines the oldest are left behind as plain output, so cursor movement never
// has to climb past the top of the terminal.
const MAX_LIVE = 12;

interface Line {
  key: string;
  text: string;
  spinning: boolean;
  bar?: { label: string; total: number; completed: number };
}

export interface ProgressOutput {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export function renderBar(label: string, total: number, completed: number, width = 80): string {
  const pct = total > 0 ? Math.min(100, Math.floor((completed / total) * 100)) : 0;
  const sizes = completed >= total ? humanBytes(total) : `${humanBytes(completed)}/${humanBytes(total)}`;
  const head = `${label} ${String(pct).padStart(3)}% `;
  const tail = ` ${sizes}`;
  const barWidth = Math.max(10, Math.min(50, width - displayWidth(head) - displayWidth(tail) - 4));
  const filled = total > 0 ? Math.min(barWidth, Math.floor((completed / total) * barWidth)) : 0;
  return `${head}▕${'█'.repeat(filled)}${' '.repeat(barWidth - filled)}▏${tail}`;
}

export class Progress {
  private lines: Line[] = [];
  private drawn = 0;
  private frame = 0;
  private timer?: NodeJS.Timeout;
  private readonly tty: boolean;

  constructor(private readonly out: ProgressOutput = process.stderr) {
    this.tty = Boolean(out.isTTY);
  }

  /** Starts a new spinner line; the previous spinner stops where it is. */
  status(text: string, key: string = text): void {
    this.stopSpinners();
    this.lines.push({ key, text, spinning: true });
    this.changed();
  }

  /** Replaces the text of the line added under `key` (e.g. a percentage that moves). */
  update(key: string, text: string): void {
    const line = this.lines.find((l) => l.key === key);
    if (!line) return this.status(text, key);
    line.text = text;
    this.changed();
  }

  /** Adds or moves the bar under `key`. */
  bar(key: string, label: string, total: number, completed: number): void {
    const line = this.lines.find((l) => l.key === key);
    if (line?.bar) {
      line.bar.completed = completed;
      line.bar.total = total;
    } else {
      this.stopSpinners();
      this.lines.push({ key, text: label, spinning: false, bar: { label, total, completed } });
    }
    this.changed();
  }

  /** Stops and leaves every line as it stands. */
  stop(): void {
    this.stopSpinners();
    this.flush(true);
    this.halt();
  }

  /** Stops and wipes the live block (the wait spinner before an answer streams). */
  stopAndClear(): void {
    if (this.tty && this.drawn > 0) {
      const up = this.drawn > 1 ? `\x1b[${this.drawn - 1}A` : '';
      this.out.write(`${up}\r\x1b[J\x1b[?25h`);
    }
    this.lines = [];
    this.drawn = 0;
    this.halt();
  }

  private halt(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private stopSpinners(): void {
    for (const l of this.lines) l.spinning = false;
  }

  private changed(): void {
    if (!this.tty) {
      // Only finished lines are written to a pipe: everything but the newest.
      while (this.lines.length > 1) this.out.write(this.renderLine(this.lines.shift() as Line) + '\n');
      return;
    }
    if (!this.timer) {
      this.timer = setInterval(() => {
        this.frame = (this.frame + 1) % FRAMES.length;
        this.flush(false);
      }, 100);
      this.timer.unref();
    }
    this.flush(false);
  }

  private renderLine(l: Line): string {
    if (l.bar) return renderBar(l.bar.label, l.bar.total, l.bar.completed, this.out.columns || 80);
    return l.spinning && this.tty ? `${l.text} ${FRAMES[this.frame]}` : l.text;
  }

  private flush(final: boolean): void {
    if (!this.tty) {
      for (const l of this.lines) this.out.write(this.renderLine(l) + '\n');
      this.lines = [];
      return;
    }
    let text = this.drawn > 1 ? `\x1b[${this.drawn - 1}A` : '';
    text += '\x1b[?25l';
    while (this.lines.length > MAX_LIVE) {
      text += `\r\x1b[K${this.renderLine(this.lines.shift() as Line)}\n`;
    }
    text += this.lines.map((l) => `\r\x1b[K${this.renderLine(l)}`).join('\n');
    this.drawn = this.lines.length;
    if (final) {
      text += this.lines.length > 0 ? '\n' : '';
      text += '\x1b[?25h';
      this.lines = [];
      this.drawn = 0;
    }
    this.out.write(text);
  }
}
