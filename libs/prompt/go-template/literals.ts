/** Go literal syntax inside actions: quoted strings (strconv.Unquote), numbers, item names in errors. */
import type { Arg } from './ast';
import type { Item } from './lexer';

export function argTextShort(a: Arg): string {
  if (a.kind === 'string') return JSON.stringify(a.value);
  if (a.kind === 'number') return a.text;
  if (a.kind === 'bool') return String(a.value);
  if (a.kind === 'nil') return 'nil';
  return '.';
}

export function itemString(it: Item): string {
  if (it.type === 'eof') return 'EOF';
  if (it.type === 'keyword' || it.type === 'bool' || it.type === 'nil') return `<${it.val}>`;
  if (it.val.length > 10) return `${JSON.stringify(it.val).slice(0, 11)}...`;
  return JSON.stringify(it.val);
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
};

/** strconv.Unquote for "..." and '...' literals; null when Go would reject the literal. */
export function unquoteGo(lit: string): string | null {
  const q = lit[0];
  if ((q !== '"' && q !== "'") || lit[lit.length - 1] !== q || lit.length < 2) return null;
  const body = lit.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== '\\') {
      if (c === q || c === '\n') return null;
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) return null;
    if (e in SIMPLE_ESCAPES) out += SIMPLE_ESCAPES[e];
    else if (e === q) out += e;
    else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i + 1, i + 1 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) return null;
      const cp = parseInt(hex, 16);
      if (e !== 'x' && (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))) return null;
      out += e === 'x' ? Buffer.from([cp]).toString('latin1') : String.fromCodePoint(cp);
      i += n;
    } else if (/[0-7]/.test(e)) {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) return null;
      out += String.fromCharCode(parseInt(oct, 8));
      i += 2;
    } else return null;
  }
  return out;
}

/** A number literal's value, or Go's error text. Ints and floats share JS numbers (see values.ts). */
export function parseNumber(text: string): { value: number; isFloat: boolean; text: string } | string {
  if (/i$/.test(text)) return `complex numbers are not supported: ${text}`;
  const clean = text.replace(/_/g, '');
  const sign = clean.startsWith('-') ? -1 : 1;
  const body = clean.replace(/^[+-]/, '');
  if (/^0[xX][0-9a-fA-F]+$/.test(body))
    return { value: sign * parseInt(body.slice(2), 16), isFloat: false, text };
  if (/^0[bB][01]+$/.test(body)) return { value: sign * parseInt(body.slice(2), 2), isFloat: false, text };
  if (/^0[oO]?[0-7]+$/.test(body))
    return { value: sign * parseInt(body.replace(/^0[oO]?/, ''), 8), isFloat: false, text };
  if (/^(0|[1-9][0-9]*)$/.test(body)) return { value: sign * parseInt(body, 10), isFloat: false, text };
  if (/^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(body))
    return { value: sign * parseFloat(body), isFloat: true, text };
  return `illegal number syntax: "${text}"`;
}
