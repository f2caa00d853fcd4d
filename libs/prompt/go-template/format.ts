/**
 * Go's fmt (%v and printf verbs) and encoding/json output for template values, so text printed by a
 * template matches what Ollama (a Go program) would have sent to the model byte for byte.
 */
import { GoStruct, OrderedObject, isMap, jsonHookOf, sortedKeys, stringerOf } from './values';

/** fmt's %v of one operand (fmt.Sprint(v)). */
export function fmtV(v: unknown, plus = false, depth = 0): string {
  if (v === undefined || v === null) return '<nil>';
  const str = stringerOf(v);
  if (str) return str();
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'function') return '0x0';
  if (Array.isArray(v)) return `[${v.map((e) => fmtV(e, plus, depth + 1)).join(' ')}]`;
  if (v instanceof GoStruct) {
    const body = Object.entries(v.fields)
      .map(([k, f]) => (plus ? `${k}:` : '') + fmtV(f, plus, depth + 1))
      .join(' ');
    return `${depth === 0 && v.typeName.startsWith('*') ? '&' : ''}{${body}}`;
  }
  if (v instanceof OrderedObject)
    return `map[${v.entries.map(([k, e]) => `${k}:${fmtV(e, plus, depth + 1)}`).join(' ')}]`;
  if (isMap(v))
    return `map[${sortedKeys(v)
      .map((k) => `${k}:${fmtV(v[k], plus, depth + 1)}`)
      .join(' ')}]`;
  return String(v);
}

export function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  return formatG(n, -1);
}

/** strconv.FormatFloat(n, 'g', prec, 64); prec -1 = shortest. */
export function formatG(n: number, prec: number, upper = false): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? '+Inf' : '-Inf';
  let mant: string;
  let exp: number;
  let eprec: number;
  if (prec < 0) {
    [mant, exp] = splitExp(n.toExponential());
    eprec = 6;
  } else {
    const p = prec === 0 ? 1 : prec;
    [mant, exp] = splitExp(n.toExponential(p - 1));
    mant = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
    const digits = mant.replace(/[-.]/g, '').length;
    eprec = p > digits && digits >= exp + 1 ? digits : p;
  }
  let out: string;
  if (exp < -4 || exp >= eprec)
    out = `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  else {
    const digits = mant.replace(/[-.]/g, '');
    const neg = mant.startsWith('-');
    let s: string;
    if (exp < 0) s = `0.${'0'.repeat(-exp - 1)}${digits}`;
    else if (digits.length > exp + 1) s = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
    else s = digits + '0'.repeat(exp + 1 - digits.length);
    out = (neg ? '-' : '') + s;
  }
  return upper ? out.toUpperCase() : out;
}

function splitExp(s: string): [string, number] {
  const [m, e] = s.split('e');
  return [m ?? s, Number(e ?? 0)];
}

export function formatE(n: number, prec: number, upper: boolean): string {
  const [m, e] = splitExp(n.toExponential(prec));
  const out = `${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  return upper ? out.toUpperCase() : out;
}

/** strconv.Quote. */
export function quoteGo(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\x07':
        out += '\\a';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\v':
        out += '\\v';
        continue;
    }
    if (ch === ' ' || /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch)) out += ch;
    else if (cp < 0x80) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return out + '"';
}

/** encoding/json's Marshal, with its HTML-safe escaping and sorted map keys. */
export function goJson(v: unknown): string {
  const hook = jsonHookOf(v);
  if (hook) return goJson(hook());
  if (v === undefined || v === null || typeof v === 'function') return 'null';
  if (typeof v === 'string') return jsonString(v);
  if (typeof v === 'number') return Number.isFinite(v) ? JSON.stringify(v) : 'null';
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(goJson).join(',')}]`;
  if (v instanceof GoStruct) return goJson(new OrderedObject(Object.entries(v.fields)));
  if (v instanceof OrderedObject)
    return `{${v.entries.map(([k, e]) => `${jsonString(k)}:${goJson(e)}`).join(',')}}`;
  if (isMap(v))
    return `{${sortedKeys(v)
      .map((k) => `${jsonString(k)}:${goJson(v[k])}`)
      .join(',')}}`;
  return 'null';
}

export function jsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (cp < 0x20 || ch === '<' || ch === '>' || ch === '&' || cp === 0x2028 || cp === 0x2029) {
      out += `\\u${cp.toString(16).padStart(4, '0')}`;
    } else if (cp >= 0xd800 && cp < 0xe000) out += '\\ufffd';
    else out += ch;
  }
  return out + '"';
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
export function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += fmtV(a);
  });
  return out;
}

export function sprintln(args: unknown[]): string {
  return args.map((a) => fmtV(a)).join(' ') + '\n';
}

/** template.HTMLEscapeString. */
export function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) =>
    c === '\0'
      ? '\uFFFD'
      : c === '"'
        ? '&#34;'
        : c === "'"
          ? '&#39;'
          : c === '&'
            ? '&amp;'
            : c === '<'
              ? '&lt;'
              : '&gt;',
  );
}

/** template.JSEscapeString. */
export function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (ch === '"') out += '\\"';
    else if (ch === '<') out += '\\u003C';
    else if (ch === '>') out += '\\u003E';
    else if (ch === '&') out += '\\u0026';
    else if (ch === '=') out += '\\u003D';
    else if (cp < 0x20) out += `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
    else if (cp < 0x80 || /[\p{L}\p{M}\p{N}\p{P}\p{S} ]/u.test(ch)) out += ch;
    else out += `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return out;
}

/** url.QueryEscape. */
export function urlQueryEscape(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
