/**
 * Ollama model names: `[host/][namespace/]model[:tag]`, with Ollama's defaults and character rules
 * (types/model/name.go). Every part becomes a directory under `manifests/`, so the rules here are
 * also what keeps a name from escaping that tree: no part may start with `.`, contain `/` or `\`,
 * or be empty.
 */
import { CorralError } from '@corral/common';

export const DEFAULT_HOST = 'registry.ollama.ai';
export const DEFAULT_NAMESPACE = 'library';
export const DEFAULT_TAG = 'latest';

/** A fully qualified model name; parts keep the caller's case (Ollama stores them as given). */
export interface ModelName {
  host: string;
  namespace: string;
  model: string;
  tag: string;
}

type Part = keyof ModelName;

const MAX_LEN: Record<Part, number> = { host: 350, namespace: 80, model: 80, tag: 80 };

const RULE: Record<Part, string> = {
  host: "must start with a letter, digit or '_' and contain only letters, digits, '_', '-', '.' and ':'",
  namespace: "must start with a letter, digit or '_' and contain only letters, digits, '_' and '-'",
  model: "must start with a letter, digit or '_' and contain only letters, digits, '_', '-' and '.'",
  tag: "must start with a letter, digit or '_' and contain only letters, digits, '_', '-' and '.'",
};

const PATTERN: Record<Part, RegExp> = {
  host: /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/,
  namespace: /^[A-Za-z0-9_][A-Za-z0-9_-]*$/,
  model: /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/,
  tag: /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/,
};

/** The rule a part breaks, or undefined when it is valid. */
function partProblem(part: Part, value: string): string | undefined {
  if (value === '') return `the ${part} is empty`;
  if (value.length > MAX_LEN[part]) return `the ${part} is longer than ${MAX_LEN[part]} characters`;
  if (!PATTERN[part].test(value)) return `the ${part} '${value}' ${RULE[part]}`;
  return undefined;
}

function invalid(raw: string, why: string): CorralError {
  return new CorralError('bad_request', `invalid model name '${raw}': ${why}`, 'model');
}

/**
 * Parses a model name the way Ollama does, filling in the default host, namespace and tag.
 * Throws `CorralError('bad_request')` naming the rule a part breaks.
 */
export function parseModelName(raw: unknown): ModelName {
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw new CorralError('bad_request', 'model name is required', 'model');
  }
  // Ollama drops a URL scheme in front of the host ("https://example.com/ns/model").
  let s = raw.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  let tag = '';
  // A ':' after the last '/' starts the tag; one before it belongs to a host port.
  const colon = s.lastIndexOf(':');
  if (colon > s.lastIndexOf('/')) {
    tag = s.slice(colon + 1);
    s = s.slice(0, colon);
    if (tag === '') throw invalid(raw, "the tag after ':' is empty");
  }
  const segments = s.split('/');
  if (segments.length > 3) {
    // Ollama's "kind" segment (skill/agent) names things Corral does not serve.
    throw invalid(raw, 'a name has at most three parts: host/namespace/model');
  }
  const model = segments.pop() ?? '';
  const namespace = segments.pop();
  const host = segments.pop();
  const name: ModelName = {
    host: host ?? DEFAULT_HOST,
    namespace: namespace ?? DEFAULT_NAMESPACE,
    model,
    tag: tag || DEFAULT_TAG,
  };
  for (const part of ['host', 'namespace', 'model', 'tag'] as const) {
    const problem = partProblem(part, name[part]);
    if (problem) throw invalid(raw, problem);
  }
  return name;
}

/** True when `raw` parses as a model name. */
export function isValidModelName(raw: unknown): boolean {
  try {
    parseModelName(raw);
    return true;
  } catch {
    return false;
  }
}

/**
 * Rebuilds a name from the four directories under `manifests/` (host/namespace/model/tag), or
 * undefined when they do not form a valid name (temp files, stray files).
 */
export function nameFromPathParts(parts: readonly string[]): ModelName | undefined {
  if (parts.length !== 4) return undefined;
  const [host, namespace, model, tag] = parts as [string, string, string, string];
  const name: ModelName = { host, namespace, model, tag };
  for (const part of ['host', 'namespace', 'model', 'tag'] as const) {
    if (partProblem(part, name[part])) return undefined;
  }
  return name;
}

/** `registry.ollama.ai/library/tiny:latest`. */
export function fullModelName(n: ModelName): string {
  return `${n.host}/${n.namespace}/${n.model}:${n.tag}`;
}

/** Ollama's DisplayShortest: `tiny:latest`, `myns/tiny:latest`, `host:5000/ns/tiny:v1`. */
export function shortModelName(n: ModelName): string {
  let prefix = '';
  if (!eqFold(n.host, DEFAULT_HOST)) prefix = `${n.host}/${n.namespace}/`;
  else if (!eqFold(n.namespace, DEFAULT_NAMESPACE)) prefix = `${n.namespace}/`;
  return `${prefix}${n.model}:${n.tag}`;
}

/** The directory parts under `manifests/`, in order. */
export function namePathParts(n: ModelName): [string, string, string, string] {
  return [n.host, n.namespace, n.model, n.tag];
}

/** Case-insensitive identity of a name (Ollama compares names with EqualFold). */
export function modelNameKey(n: ModelName): string {
  return fullModelName(n).toLowerCase();
}

export function modelNamesEqual(a: ModelName, b: ModelName): boolean {
  return modelNameKey(a) === modelNameKey(b);
}

function eqFold(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
