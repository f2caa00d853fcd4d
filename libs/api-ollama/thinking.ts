/**
 * Splits a reasoning model's `<think>…</think>` preamble from its answer as the text streams in,
 * so `think: true` responses carry `thinking` and `content` separately (Ollama's behaviour).
 */
export class ThinkingSplitter {
  private state: 'start' | 'thinking' | 'content' = 'start';
  private buf = '';

  constructor(
    private readonly open = '<think>',
    private readonly close = '</think>',
  ) {}

  push(text: string): { thinking: string; content: string } {
    this.buf += text;
    let thinking = '';
    let content = '';
    for (;;) {
      if (this.state === 'start') {
        const trimmed = this.buf.trimStart();
        if (trimmed.length < this.open.length && this.open.startsWith(trimmed)) break;
        if (trimmed.startsWith(this.open)) {
          this.buf = trimmed.slice(this.open.length).replace(/^\s+/, '');
          this.state = 'thinking';
        } else this.state = 'content';
        continue;
      }
      if (this.state === 'thinking') {
        const i = this.buf.indexOf(this.close);
        if (i >= 0) {
          thinking += this.buf.slice(0, i);
          this.buf = this.buf.slice(i + this.close.length).replace(/^\s+/, '');
          this.state = 'content';
          continue;
        }
        // Keep back what could be the start of the closing tag.
        const keep = partialSuffix(this.buf, this.close);
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
