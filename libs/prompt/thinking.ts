/**
 * Splitting a reasoning model's `<think>…</think>` preamble from its answer: as the text streams in
 * (`ThinkingSplitter`, so `think: true` responses carry `thinking` and `content` separately, as
 * Ollama's do) or over a whole output at once (`splitThinking`, the same rules in one call).
 */

export interface SplitThinking {
  thinking?: string;
  content: string;
}

export interface SplitThinkingOptions {
  /**
   * The prompt already opened the reasoning block (templates such as DeepSeek-R1's and Qwen3's
   * end with `<think>\n`), so the output starts inside it and only `</think>` appears.
   * Defaults to false.
   */
  openedInPrompt?: boolean;
}

const OPEN = '<think>';
const CLOSE = '</think>';

/**
 * The streaming splitter. Whitespace right after `<think>` and right after `</think>` is dropped;
 * a tag split across chunks is held back until it is whole, so it never leaks into either side.
 */
export class ThinkingSplitter {
  private state: 'start' | 'thinking' | 'content' = 'start';
  private buf = '';

  constructor(private readonly options: SplitThinkingOptions = {}) {}

  push(text: string): { thinking: string; content: string } {
    this.buf += text;
    let thinking = '';
    let content = '';
    for (;;) {
      if (this.state === 'start') {
        const trimmed = this.buf.trimStart();
        if (trimmed.length < OPEN.length && OPEN.startsWith(trimmed)) break;
        if (trimmed.startsWith(OPEN)) {
          this.buf = trimmed.slice(OPEN.length).replace(/^\s+/, '');
          this.state = 'thinking';
        } else this.state = this.options.openedInPrompt ? 'thinking' : 'content';
        continue;
      }
      if (this.state === 'thinking') {
        const i = this.buf.indexOf(CLOSE);
        if (i >= 0) {
          thinking += this.buf.slice(0, i);
          this.buf = this.buf.slice(i + CLOSE.length).replace(/^\s+/, '');
          this.state = 'content';
          continue;
        }
        // Keep back what could be the start of the closing tag.
        const keep = partialSuffix(this.buf, CLOSE);
        thinking += this.buf.slice(0, this.buf.length - keep);
        this.buf = this.buf.slice(this.buf.length - keep);
        break;
      }
      content += this.buf;
      this.buf = '';
      break;
    }
    return { thinking, content };
  }

  /** The end of the output: what was held back. An unterminated block is all thinking. */
  flush(): { thinking: string; content: string } {
    const rest = this.buf;
    this.buf = '';
    return this.state === 'thinking' ? { thinking: rest, content: '' } : { thinking: '', content: rest };
  }
}

function partialSuffix(text: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, text.length); n > 0; n--)
    if (tag.startsWith(text.slice(-n))) return n;
  return 0;
}

/**
 * Separates a leading `<think>...</think>` block from a whole answer. Thinking is trimmed, and so
 * is the whitespace between `</think>` and the answer; an empty block is dropped. An unterminated
 * block (generation cut off while reasoning) is all thinking.
 */
export function splitThinking(text: string, options: SplitThinkingOptions = {}): SplitThinking {
  const s = new ThinkingSplitter(options);
  const a = s.push(text);
  const b = s.flush();
  const thinking = (a.thinking + b.thinking).trim();
  const content = a.content + b.content;
  return thinking ? { thinking, content } : { content };
}
