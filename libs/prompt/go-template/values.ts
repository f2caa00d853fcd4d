/**
 * How Go values are represented while a template runs.
 *
 * - `undefined` is Go's invalid reflect.Value (a missing map key, an absent pipeline value): it
 *   prints as `<no value>`.
 * - `null` is a nil interface held in a map or struct (JSON null): field access on it fails as in Go.
 * - strings, numbers, booleans and arrays are Go strings, numbers, bools and slices. Numbers are
 *   not split into int and float64: integral numbers print as integers (Go would print a float64
 *   1e6 as `1e+06`; nothing Ollama templates print depends on that).
 * - plain objects are Go maps (`map[string]any`): ranged and JSON-encoded in sorted key order.
 * - {@link GoStruct} is a Go struct: fixed fields in declaration order; a missing field is an error.
 *
 * A value may carry a Go `String()` method (fmt prints it) and a `MarshalJSON` (json prints it).
 */

export const GO_STRING = Symbol('go.String');
export const GO_JSON = Symbol('go.MarshalJSON');
export const GO_TYPE = Symbol('go.Type');

type Hooks = { [GO_STRING]?: () => string; [GO_JSON]?: () => unknown; [GO_TYPE]?: string };

export class GoStruct {
  constructor(
    /** Go type name as shown in errors, e.g. `*template.templateMessage`. */
    readonly typeName: string,
    readonly fields: Readonly<Record<string, unknown>>,
    readonly hooks: {
      string?: () => string;
      /** JSON value to encode instead of the fields (e.g. JSON tag names and omitempty). */
      json?: () => unknown;
      methods?: Readonly<Record<string, (...args: unknown[]) => unknown>>;
    } = {},
  ) {}
}

/** An object whose JSON keeps its insertion order (a Go struct's fields), unlike a map. */
export class OrderedObject {
  constructor(readonly entries: ReadonlyArray<readonly [string, unknown]>) {}
}

/** Attach Go's String() to an array or map value. */
export function withStringer<T extends object>(value: T, fn: () => string): T {
  Object.defineProperty(value, GO_STRING, { value: fn, enumerable: false });
  return value;
}

/** Attach Go's MarshalJSON to an array or map value. */
export function withJson<T extends object>(value: T, fn: () => unknown): T {
  Object.defineProperty(value, GO_JSON, { value: fn, enumerable: false });
  return value;
}

export function withTypeName<T extends object>(value: T, name: string): T {
  Object.defineProperty(value, GO_TYPE, { value: name, enumerable: false });
  return value;
}

export function isMap(v: unknown): v is Record<string, unknown> {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    !(v instanceof GoStruct) &&
    !(v instanceof OrderedObject)
  );
}

export function stringerOf(v: unknown): (() => string) | undefined {
  if (v instanceof GoStruct) return v.hooks.string;
  if (typeof v === 'object' && v !== null) return (v as Hooks)[GO_STRING];
  return undefined;
}

export function jsonHookOf(v: unknown): (() => unknown) | undefined {
  if (v instanceof GoStruct) return v.hooks.json;
  if (typeof v === 'object' && v !== null) return (v as Hooks)[GO_JSON];
  return undefined;
}

/** Go's name for the value's type, for error messages. */
export function goTypeName(v: unknown): string {
  if (v === undefined || v === null) return '<nil>';
  if (v instanceof GoStruct) return v.typeName;
  if (typeof v === 'object') {
    const named = (v as Hooks)[GO_TYPE];
    if (named) return named;
    return Array.isArray(v) ? '[]interface {}' : 'map[string]interface {}';
  }
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'function') return 'func';
  return typeof v;
}

/** Go template truth: false, 0, nil, and empty strings, slices and maps are false; structs are true. */
export function isTrue(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof GoStruct || v instanceof OrderedObject) return true;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** Go sorts map keys when ranging and when encoding JSON. */
export function sortedKeys(m: Record<string, unknown>): string[] {
  return Object.keys(m).sort(compareGoStrings);
}

/** Byte-wise (UTF-8) order, which is code-point order: what Go's sort of strings gives. */
export function compareGoStrings(a: string, b: string): number {
  const ca = [...a];
  const cb = [...b];
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const x = ca[i]?.codePointAt(0) ?? 0;
    const y = cb[i]?.codePointAt(0) ?? 0;
    if (x !== y) return x - y;
  }
  return ca.length - cb.length;
}

/** Go's len of a string counts UTF-8 bytes. */
export function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
