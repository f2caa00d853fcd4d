/**
 * Lexer for Go text/template, following text/template/parse/lex.go: the same item kinds, the same
 * trim-marker rules (`{{- ` / ` -}}` need a space beside the dash) and the same error texts, so that
 * a TEMPLATE that Go rejects is rejected here with the message Ollama users already know.
 */

export type ItemType =
  | 'text'
  | 'leftDelim'
  | 'rightDelim'
  | 'space'
  | 'pipe'
  | 'leftParen'
  | 'rightParen'
  | 'declare'
  | 'assign'
  | 'char'
  | 'bool'
  | 'number'
  | 'charConstant'
  | 'string'
  | 'rawString'
  | 'identifier'
  | 'field'
  | 'variable'
  | 'dot'
  | 'nil'
  | 'keyword'
  | 'eof'
  | 'error';

export interface Item {
  type: ItemType;
  val: string;
  /** Offset in the source (UTF-16 code units). */
  pos: number;
}

const KEYWORDS = new Set([
  'block',
  'break',
  'continue',
  'define',
  'else',
  'end',
  'if',
  'range',
  'template',
  'with',
]);
const SPACE = ' \t\r\n';
const isSpace = (c: string | undefined): boolean => c !== undefined && SPACE.includes(c);
const isAlnum = (c: string | undefined): boolean => c !== undefined && /[\p{L}\p{Nd}_]/u.test(c);

/** Lexes the whole source. A lexing error becomes a final 'error' item; the parser reports it when reached. */
export function lex(src: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  let start = 0;
  const emit = (type: ItemType, val = src.slice(start, pos)): void => {
    items.push({ type, val, pos: start });
    start = pos;
  };
  const fail = (msg: string): Item[] => {
    items.push({ type: 'error', val: msg, pos: start });
    return items;
  };

  for (;;) {
    // Text up to the next action.
    const next = src.indexOf('{{', pos);
    const textEnd = next < 0 ? src.length : next;
    let trimmedEnd = textEnd;
    if (next >= 0 && src[next + 2] === '-' && isSpace(src[next + 3])) {
      while (trimmedEnd > pos && isSpace(src[trimmedEnd - 1])) trimmedEnd--;
    }
    if (trimmedEnd > pos) {
      start = pos;
      pos = trimmedEnd;
      emit('text');
    }
    if (next < 0) {
      start = pos = src.length;
      emit('eof', '');
      return items;
    }
    pos = next + 2;
    start = next;
    const trimLeft = src[pos] === '-' && isSpace(src[pos + 1]);
    const afterMarker = trimLeft ? 2 : 0;
    if (src.startsWith('/*', pos + afterMarker)) {
      const close = src.indexOf('*/', pos + afterMarker + 2);
      if (close < 0) return fail('unclosed comment');
      pos = close + 2;
      const rd = atRightDelim(src, pos);
      if (!rd.delim) return fail('comment ends before closing delimiter');
      pos += (rd.trim ? 2 : 0) + 2;
      if (rd.trim) while (isSpace(src[pos])) pos++;
      start = pos;
      continue;
    }
    emit('leftDelim', '{{');
    pos += afterMarker;
    start = pos;
    const err = lexInsideAction();
    if (err) return fail(err);
  }

  function lexInsideAction(): string | null {
    let parenDepth = 0;
    for (;;) {
      const rd = atRightDelim(src, pos);
      if (rd.delim) {
        if (parenDepth !== 0) return 'unclosed left paren';
        if (rd.trim) pos += 2;
        start = pos;
        pos += 2;
        emit('rightDelim', '}}');
        if (rd.trim) while (isSpace(src[pos])) pos++;
        start = pos;
        return null;
      }
      const c = src[pos];
      if (c === undefined) return 'unclosed action';
      start = pos;
      if (isSpace(c)) {
        while (isSpace(src[pos]) && !atRightDelim(src, pos).delim) pos++;
        emit('space');
      } else if (c === '=') {
        pos++;
        emit('assign');
      } else if (c === ':') {
        if (src[pos + 1] !== '=') return 'expected :=';
        pos += 2;
        emit('declare');
      } else if (c === '|') {
        pos++;
        emit('pipe');
      } else if (c === '"') {
        pos++;
        for (;;) {
          const d = src[pos++];
          if (d === '\\') {
            if (src[pos] === undefined || src[pos] === '\n') return 'unterminated quoted string';
            pos++;
          } else if (d === undefined || d === '\n') return 'unterminated quoted string';
          else if (d === '"') break;
        }
        emit('string');
      } else if (c === '`') {
        const close = src.indexOf('`', pos + 1);
        if (close < 0) return 'unterminated raw quoted string';
        pos = close + 1;
        emit('rawString');
      } else if (c === "'") {
        pos++;
        for (;;) {
          const d = src[pos++];
          if (d === '\\') {
            if (src[pos] === undefined || src[pos] === '\n') return 'unterminated character constant';
            pos++;
          } else if (d === undefined || d === '\n') return 'unterminated character constant';
          else if (d === "'") break;
        }
        emit('charConstant');
      } else if (c === '$') {
        pos++;
        while (isAlnum(src[pos])) pos++;
        if (!atTerminator()) return `bad character ${quoteRune(src[pos] ?? '')}`;
        emit('variable');
      } else if (c === '.' && !(src[pos + 1] !== undefined && /[0-9]/.test(src[pos + 1] ?? ''))) {
        pos++;
        if (!isAlnum(src[pos])) {
          emit('dot');
          continue;
        }
        while (isAlnum(src[pos])) pos++;
        if (!atTerminator()) return `bad character ${quoteRune(src[pos] ?? '')}`;
        emit('field');
      } else if (c === '.' || c === '+' || c === '-' || /[0-9]/.test(c)) {
        const m =
          /^[+-]?(0[xX][0-9a-fA-F_]*(\.[0-9a-fA-F_]*)?([pP][+-]?[0-9_]+)?|0[bB][01_]+|0[oO][0-7_]+|[0-9_]*\.?[0-9_]*([eE][+-]?[0-9_]+)?)i?/.exec(
            src.slice(pos),
          );
        const len = m?.[0].length ?? 0;
        if (len === 0 || /^[+-]?$/.test(m?.[0] ?? '') || isAlnum(src[pos + len])) {
          let end = pos + Math.max(len, 1);
          while (isAlnum(src[end])) end++;
          return `bad number syntax: "${src.slice(pos, end)}"`;
        }
        pos += len;
        emit('number');
      } else if (isAlnum(c)) {
        while (isAlnum(src[pos])) pos++;
        if (!atTerminator()) return `bad character ${quoteRune(src[pos] ?? '')}`;
        const word = src.slice(start, pos);
        if (KEYWORDS.has(word)) emit('keyword');
        else if (word === 'true' || word === 'false') emit('bool');
        else if (word === 'nil') emit('nil');
        else emit('identifier');
      } else if (c === '(') {
        pos++;
        parenDepth++;
        emit('leftParen');
      } else if (c === ')') {
        pos++;
        parenDepth--;
        emit('rightParen');
        if (parenDepth < 0) return `unexpected right paren ${quoteRune(c)}`;
      } else if (c <= '\x7e' && c >= '!') {
        // Other printable ASCII is an item of its own; the parser reports it in context.
        pos++;
        emit('char');
      } else {
        return `unrecognized character in action: ${quoteRune(c)}`;
      }
    }
  }

  function atTerminator(): boolean {
    const c = src[pos];
    if (c === undefined || isSpace(c) || '.,|:()'.includes(c)) return true;
    return src.startsWith('}}', pos);
  }
}

function atRightDelim(src: string, pos: number): { delim: boolean; trim: boolean } {
  if (isSpace(src[pos]) && src[pos + 1] === '-' && src.startsWith('}}', pos + 2))
    return { delim: true, trim: true };
  return { delim: src.startsWith('}}', pos), trim: false };
}

function quoteRune(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${c}'`;
}

/** 1-based line and column of an offset, for error messages a person can act on. */
export function lineCol(src: string, pos: number): { line: number; col: number } {
  let line = 1;
  let lastNl = -1;
  for (let i = 0; i < pos && i < src.length; i++) {
    if (src[i] === '\n') {
      line++;
      lastNl = i;
    }
  }
  return { line, col: pos - lastNl };
}
