/** fmt.Sprintf, for the `printf` builtin: verbs, flags, width, precision and Go's %!verb(...) errors. */
import { fmtV, formatE, formatG, formatNumber, quoteGo } from './format';
import { GoStruct, goTypeName, isMap, stringerOf } from './values';

/** fmt.Sprintf for the verbs templates use: v s q d f F e E g G t x X o b c U T and %%. */
export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let argi = 0;
  const re = /%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d*))?([a-zA-Z%])?/g;
  let last = 0;
  for (let m = re.exec(format); m; m = re.exec(format)) {
    out += format.slice(last, m.index);
    last = re.lastIndex;
    const flags = m[1] ?? '';
    const verb = m[4];
    if (verb === '%') {
      out += '%';
      continue;
    }
    let width = -1;
    let prec = -1;
    if (m[2] === '*') width = Number(args[argi++]);
    else if (m[2]) width = Number(m[2]);
    if (m[3] === '*') prec = Number(args[argi++]);
    else if (m[3] !== undefined) prec = m[3] === '' ? 0 : Number(m[3]);
    if (!verb) {
      out += '%!(NOVERB)';
      continue;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const arg = args[argi++];
    out += pad(formatVerb(verb, arg, flags, prec), width, flags, typeof arg === 'number');
  }
  out += format.slice(last);
  if (argi < args.length) {
    out += `%!(EXTRA ${args
      .slice(argi)
      .map((a) => `${goTypeName(a)}=${fmtV(a)}`)
      .join(', ')})`;
  }
  return out;
}

function pad(s: string, width: number, flags: string, numeric: boolean): string {
  const n = [...s].length;
  if (width <= n) return s;
  if (flags.includes('-')) return s + ' '.repeat(width - n);
  if (flags.includes('0') && numeric) {
    const sign = /^[+-]/.test(s) ? (s[0] as string) : '';
    return sign + '0'.repeat(width - n) + s.slice(sign.length);
  }
  return ' '.repeat(width - n) + s;
}

function badVerb(verb: string, arg: unknown): string {
  if (arg === undefined || arg === null) return `%!${verb}(<nil>)`;
  return `%!${verb}(${goTypeName(arg)}=${fmtV(arg)})`;
}

function signed(s: string, n: number, flags: string): string {
  if (n >= 0 && !s.startsWith('-')) {
    if (flags.includes('+')) return '+' + s;
    if (flags.includes(' ')) return ' ' + s;
  }
  return s;
}

function formatVerb(verb: string, arg: unknown, flags: string, prec: number): string {
  const str = stringerOf(arg);
  if (Array.isArray(arg) && !str && verb !== 'T' && verb !== 'v') {
    return `[${arg.map((e) => formatVerb(verb, e, flags, prec)).join(' ')}]`;
  }
  switch (verb) {
    case 'v':
      return typeof arg === 'number' ? signed(formatNumber(arg), arg, flags) : fmtV(arg, flags.includes('+'));
    case 'T':
      return goTypeName(arg);
    case 's':
    case 'q': {
      let s: string | undefined = str ? str() : typeof arg === 'string' ? arg : undefined;
      if (s === undefined) {
        if (verb === 'q' && typeof arg === 'number' && Number.isInteger(arg))
          return `'${String.fromCodePoint(arg)}'`;
        if (verb === 's' && (arg instanceof GoStruct || isMap(arg))) return fmtV(arg);
        return badVerb(verb, arg);
      }
      if (prec >= 0) s = [...s].slice(0, prec).join('');
      return verb === 'q' ? (flags.includes('#') && !s.includes('`') ? `\`${s}\`` : quoteGo(s)) : s;
    }
    case 'd':
    case 'x':
    case 'X':
    case 'o':
    case 'b':
    case 'c':
    case 'U': {
      if (typeof arg === 'string' && (verb === 'x' || verb === 'X')) {
        const hex = Buffer.from(arg, 'utf8').toString('hex');
        return verb === 'X' ? hex.toUpperCase() : hex;
      }
      if (typeof arg === 'boolean' || typeof arg !== 'number' || !Number.isInteger(arg)) {
        return badVerb(verb, arg);
      }
      const abs = Math.abs(arg);
      const minus = arg < 0 ? '-' : '';
      const alt = flags.includes('#');
      if (verb === 'd') return signed(String(arg), arg, flags);
      if (verb === 'x') return minus + (alt ? '0x' : '') + abs.toString(16);
      if (verb === 'X') return minus + (alt ? '0X' : '') + abs.toString(16).toUpperCase();
      if (verb === 'o') return minus + (alt ? '0' : '') + abs.toString(8);
      if (verb === 'b') return minus + abs.toString(2);
      if (verb === 'c') return String.fromCodePoint(arg);
      return `U+${abs.toString(16).toUpperCase().padStart(4, '0')}`;
    }
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G': {
      if (typeof arg !== 'number') return badVerb(verb, arg);
      let s: string;
      if (verb === 'f' || verb === 'F') s = arg.toFixed(prec < 0 ? 6 : prec);
      else if (verb === 'e' || verb === 'E') s = formatE(arg, prec < 0 ? 6 : prec, verb === 'E');
      else s = formatG(arg, prec, verb === 'G');
      return signed(s, arg, flags);
    }
    case 't':
      return typeof arg === 'boolean' ? String(arg) : badVerb(verb, arg);
    default:
      return badVerb(verb, arg);
  }
}
