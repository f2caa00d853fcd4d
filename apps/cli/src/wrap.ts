/**
 * Word wrap for streamed answers, as Ollama's displayResponse does it: tokens are printed as they
 * come, and when a word runs past the margin the cursor backs up over it, clears the line end and
 * reprints the word on a new line. Returns the text to write, so it is testable without a terminal.
 */
import { charWidth, displayWidth } from './format';

export class WordWrapper {
  private lineLength = 0;
  private word = '';

  /** `width` 0 (not a terminal, or --nowordwrap) passes text through untouched. */
  constructor(private readonly width: number) {}

  push(content: string): string {
    if (this.width < 10) return content;
    let out = '';
    for (const ch of content) {
      const w = charWidth(ch.codePointAt(0) ?? 0);
      if (ch === '\n') {
        out += ch;
        this.lineLength = 0;
        this.word = '';
        continue;
      }
      if (this.lineLength + 1 > this.width - 5) {
        // A space at the margin ends the line; a word longer than the line (a URL) breaks in place.
        if (ch === ' ' || displayWidth(this.word) > this.width - 10) {
          out += ch === ' ' ? '\n' : '\n' + ch;
          this.word = ch === ' ' ? '' : ch;
          this.lineLength = ch === ' ' ? 0 : w;
          continue;
        }
        const back = displayWidth(this.word);
        if (back > 0) out += `\x1b[${back}D`;
        out += '\x1b[K\n' + this.word + ch;
        this.word += ch;
        this.lineLength = displayWidth(this.word);
        continue;
      }
      out += ch;
      this.lineLength += w;
      this.word = w >= 2 || ch === ' ' ? '' : this.word + ch;
    }
    return out;
  }
}
