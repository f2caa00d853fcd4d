/**
 * Go text/template's predefined functions (text/template/funcs.go), plus nothing else: the caller
 * adds its own (Ollama's `json`, `currentDate`, ...). A function throws to report "error calling X".
 * `and` and `or` are listed for the parser but evaluated lazily by the executor, as in Go.
 */
import { fmtV, htmlEscape, jsEscape, sprint, sprintln, urlQueryEscape } from './format';
import { sprintf } from './printf';
import { OrderedObject, byteLength, goTypeName, isMap, isTrue } from './values';

export type GoFunc = (...args: unknown[]) => unknown;

type Kind = 'bool' | 'number' | 'string' | 'nil' | 'other';

function basicKind(v: unknown): Kind {
  if (v === undefined || v === null) return 'nil';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  return 'other';
}

function eq(arg1: unknown, ...rest: unknown[]): boolean {
  if (rest.length === 0) throw new Error('missing argument for comparison');
  const k1 = basicKind(arg1);
  for (const arg of rest) {
    const k2 = basicKind(arg);
    if (k1 !== k2) {
      if (k1 !== 'nil' && k2 !== 'nil') throw new Error('incompatible types for comparison');
      continue;
    }
    if (k1 === 'other') {
      if (
        Array.isArray(arg1) ||
        Array.isArray(arg) ||
        isMap(arg1) ||
        isMap(arg) ||
        typeof arg1 === 'function'
      ) {
        throw new Error(
          `non-comparable types ${fmtV(arg1)}: ${goTypeName(arg1)}, ${goTypeName(arg)}: ${fmtV(arg)}`,
        );
      }
      if (arg1 === arg) return true;
      continue;
    }
    if (k1 === 'nil' || arg1 === arg) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (ka === 'bool' || ka === 'nil' || ka === 'other' || kb === 'bool' || kb === 'nil' || kb === 'other') {
    throw new Error('invalid type for comparison');
  }
  if (ka !== kb) throw new Error('incompatible types for comparison');
  return (a as number | string) < (b as number | string);
}

function indexArg(v: unknown, cap: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new Error(`cannot index slice/array with type ${goTypeName(v)}`);
  if (v < 0 || v > cap) throw new Error(`index out of range: ${v}`);
  return v;
}

function index(item: unknown, ...indexes: unknown[]): unknown {
  if (item === undefined || item === null) throw new Error('index of untyped nil');
  let cur: unknown = item;
  for (const ix of indexes) {
    if (cur === undefined || cur === null) throw new Error('index of untyped nil');
    if (typeof cur === 'string') {
      const bytes = Buffer.from(cur, 'utf8');
      cur = bytes[indexArg(ix, bytes.length - 1)];
    } else if (Array.isArray(cur)) {
      cur = cur[indexArg(ix, cur.length - 1)];
    } else if (isMap(cur)) {
      if (typeof ix !== 'string') throw new Error(`value has type ${goTypeName(ix)}; should be string`);
      cur = Object.prototype.hasOwnProperty.call(cur, ix) ? cur[ix] : null;
    } else if (cur instanceof OrderedObject) {
      cur = cur.entries.find(([k]) => k === ix)?.[1] ?? null;
    } else {
      throw new Error(`can't index item of type ${goTypeName(cur)}`);
    }
  }
  return cur;
}

function slice(item: unknown, ...indexes: unknown[]): unknown {
  if (item === undefined || item === null) throw new Error('slice of untyped nil');
  if (indexes.length > 3) throw new Error(`too many slice indexes: ${indexes.length}`);
  let len: number;
  if (typeof item === 'string') {
    if (indexes.length === 3) throw new Error('cannot 3-index slice a string');
    len = byteLength(item);
  } else if (Array.isArray(item)) len = item.length;
  else throw new Error(`can't slice item of type ${goTypeName(item)}`);
  const ix = [0, len];
  indexes.forEach((v, i) => {
    ix[i] = indexArg(v, len);
  });
  const [i = 0, j = len] = ix;
  if (i > j) throw new Error(`invalid slice index: ${i} > ${j}`);
  if (typeof item === 'string') return Buffer.from(item, 'utf8').subarray(i, j).toString('utf8');
  return (item as unknown[]).slice(i, j);
}

function len(item: unknown): number {
  if (item === undefined || item === null) throw new Error('len of nil pointer');
  if (typeof item === 'string') return byteLength(item);
  if (Array.isArray(item)) return item.length;
  if (item instanceof OrderedObject) return item.entries.length;
  if (isMap(item)) return Object.keys(item).length;
  throw new Error(`len of type ${goTypeName(item)}`);
}

function call(fn: unknown, ...args: unknown[]): unknown {
  if (typeof fn !== 'function') {
    throw new Error(
      fn === undefined || fn === null ? 'call of nil' : `non-function of type ${goTypeName(fn)}`,
    );
  }
  return (fn as GoFunc)(...args);
}

/** Arguments of html/js/urlquery are joined as fmt.Sprint does, unless it is one string. */
function evalArgs(args: unknown[]): string {
  const [first] = args;
  if (args.length === 1 && typeof first === 'string') return first;
  return sprint(args);
}

export const BUILTINS: Readonly<Record<string, GoFunc>> = {
  and: () => undefined,
  or: () => undefined,
  not: (v) => !isTrue(v),
  len: (v) => len(v),
  index,
  slice,
  eq,
  ne: (a, b) => !eq(a, b),
  lt: (a, b) => lt(a, b),
  le: (a, b) => lt(a, b) || eq(a, b),
  gt: (a, b) => !lt(a, b) && !eq(a, b),
  ge: (a, b) => !lt(a, b),
  print: (...a) => sprint(a),
  printf: (f, ...a) => {
    if (typeof f !== 'string') throw new Error(`wrong type for value; expected string; got ${goTypeName(f)}`);
    return sprintf(f, a);
  },
  println: (...a) => sprintln(a),
  html: (...a) => htmlEscape(evalArgs(a)),
  js: (...a) => jsEscape(evalArgs(a)),
  urlquery: (...a) => urlQueryEscape(evalArgs(a)),
  call,
};

/** Exact argument counts Go's reflection would enforce for builtins with fixed arity. */
export const BUILTIN_ARITY: Readonly<Record<string, [min: number, max: number]>> = {
  and: [1, Infinity],
  or: [1, Infinity],
  not: [1, 1],
  len: [1, 1],
  index: [1, Infinity],
  slice: [1, Infinity],
  eq: [1, Infinity],
  ne: [2, 2],
  lt: [2, 2],
  le: [2, 2],
  gt: [2, 2],
  ge: [2, 2],
  printf: [1, Infinity],
  call: [1, Infinity],
};
