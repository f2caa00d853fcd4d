/** The parser's view of the item stream: peek/next/backup with Go's error reporting. */
import { lex, lineCol, type Item } from './lexer';
import { itemString } from './literals';

export class TemplateSyntaxError extends Error {
  constructor(
    readonly detail: string,
    readonly line: number,
    readonly col: number,
  ) {
    super(`template: :${line}:${col}: ${detail}`);
    this.name = 'TemplateSyntaxError';
  }
}

export abstract class TokenReader {
  protected readonly items: Item[];
  protected i = 0;

  constructor(protected readonly src: string) {
    this.items = lex(src);
  }

  protected fail(msg: string, pos: number): never {
    const { line, col } = lineCol(this.src, pos);
    throw new TemplateSyntaxError(msg, line, col);
  }

  protected peek(): Item {
    const it = this.items[this.i] ?? this.items[this.items.length - 1];
    if (!it) throw new Error('lexer produced no items');
    if (it.type === 'error') this.fail(it.val, it.pos);
    return it;
  }
  protected next(): Item {
    const it = this.peek();
    if (it.type !== 'eof') this.i++;
    return it;
  }
  protected backup(): void {
    this.i--;
  }
  protected nextNonSpace(): Item {
    let it = this.next();
    while (it.type === 'space') it = this.next();
    return it;
  }
  protected peekNonSpace(): Item {
    const it = this.nextNonSpace();
    this.backup();
    return it;
  }
  protected expect(type: Item['type'], context: string): Item {
    const it = this.nextNonSpace();
    if (it.type !== type) this.unexpected(it, context);
    return it;
  }
  protected unexpected(it: Item, context: string): never {
    this.fail(`unexpected ${itemString(it)} in ${context}`, it.pos);
  }
}
