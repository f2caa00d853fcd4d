/**
 * Ollama's Modelfile format (parser/parser.go): one command per line, commands case-insensitive,
 * `#` comments at the start of a line, values running to the end of the line unless they open a
 * `"` or `"""` string, which may span lines. PARAMETER values are typed by Ollama's table.
 */
import { CorralError } from '@corral/common';
import type { Modelfile } from './types';
import {
  formatParameterValue,
  parameterEntries,
  ParameterValueError,
  parameterType,
  parseParameterText,
} from './parameters';

export { coerceParameters } from './parameters';

/** A Modelfile error; `line` is 1-based where the problem is tied to a line. */
export class ModelfileError extends CorralError {
  constructor(
    readonly detail: string,
    readonly line?: number,
  ) {
    super('invalid_modelfile', line ? `(line ${line}): ${detail}` : detail);
  }
}

const COMMANDS = ['from', 'license', 'template', 'system', 'adapter', 'parameter', 'message'] as const;
/** Valid in newer Ollama Modelfiles but with no meaning in Corral yet. */
const UNSUPPORTED = ['draft', 'renderer', 'parser', 'requires'];
const ROLES = ['system', 'user', 'assistant'] as const;
type Role = (typeof ROLES)[number];

const COMMAND_LIST =
  'command must be one of "from", "license", "template", "system", "adapter", "parameter", or "message"';

/** Ollama's unquote: whether the trimmed text is a complete value, and the value. */
function unquote(s: string): [ok: boolean, value: string] {
  if (s.startsWith('"""')) return s.length >= 6 && s.endsWith('"""') ? [true, s.slice(3, -3)] : [false, ''];
  if (s.startsWith('"')) return s.length >= 2 && s.endsWith('"') ? [true, s.slice(1, -1)] : [false, ''];
  return [true, s];
}

/** Ollama drops non-printable characters; tabs and newlines inside values survive. */
function stripControl(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (c === 9 || c === 10 || (c >= 32 && c !== 127)) out += ch;
  }
  return out;
}

/** Parses Modelfile text. Throws `ModelfileError` (`invalid_modelfile`) with the line number. */
export function parseModelfile(text: string): Modelfile {
  const lines = text
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .split('\n');
  const mf: Modelfile = { from: '', parameters: {}, adapters: [], messages: [], license: [] };
  let fromLine = 0;

  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = (lines[i] ?? '').replace(/^[ \t]+/, '');
    if (line === '' || line.startsWith('#')) continue;

    const m = /^([A-Za-z]+)([\s\S]*)$/.exec(line);
    const word = m?.[1] ?? '';
    let rest = m?.[2] ?? line;
    if (!m || (rest !== '' && !/^[ \t]/.test(rest))) {
      const token = line.split(/[ \t]/)[0] ?? line;
      throw new ModelfileError(`unknown command '${token}'; ${COMMAND_LIST}`, lineNo);
    }
    const cmd = word.toLowerCase();
    if (UNSUPPORTED.includes(cmd)) {
      throw new ModelfileError(`${word.toUpperCase()} is not supported by Corral`, lineNo);
    }
    if (!(COMMANDS as readonly string[]).includes(cmd)) {
      throw new ModelfileError(`unknown command '${word}'; ${COMMAND_LIST}`, lineNo);
    }
    if (rest === '') throw new ModelfileError(`${word.toUpperCase()} needs a value`, lineNo);
    rest = rest.replace(/^[ \t]+/, '');

    let param = '';
    let role: Role | undefined;
    if (cmd === 'parameter') {
      const p = /^([A-Za-z0-9_]+)([ \t]+|$)/.exec(rest);
      if (!p?.[1]) {
        throw new ModelfileError(`invalid parameter name '${rest.split(/[ \t]/)[0] ?? ''}'`, lineNo);
      }
      param = p[1];
      if (p[2] === '') throw new ModelfileError(`parameter '${param}' needs a value`, lineNo);
      rest = rest.slice(p[0].length);
    } else if (cmd === 'message') {
      const r = /^([A-Za-z]+)([ \t]+|$)/.exec(rest);
      const got = r?.[1] ?? rest.split(/[ \t]/)[0] ?? '';
      if (!r || !(ROLES as readonly string[]).includes(got)) {
        throw new ModelfileError(
          `message role must be one of "system", "user", or "assistant" (got '${got}')`,
          lineNo,
        );
      }
      role = got as Role;
      rest = rest.slice(r[0].length);
    }

    // A quoted value runs on until a line ends it, exactly like Ollama's state machine.
    let buf = rest;
    let [ok, value] = unquote(buf.trim());
    while (!ok) {
      i++;
      if (i >= lines.length)
        throw new ModelfileError(`unterminated quoted value for ${word.toUpperCase()}`, lineNo);
      buf += '\n' + (lines[i] ?? '');
      [ok, value] = unquote(buf.trim());
    }
    value = stripControl(value);

    switch (cmd) {
      case 'from':
        if (value === '') throw new ModelfileError('FROM needs a model name or a file path', lineNo);
        if (fromLine)
          throw new ModelfileError(`only one FROM line is supported (first one on line ${fromLine})`, lineNo);
        mf.from = value;
        fromLine = lineNo;
        break;
      case 'parameter':
        setParameter(mf.parameters, param, value, lineNo);
        break;
      case 'template':
        mf.template = value;
        break;
      case 'system':
        mf.system = value;
        break;
      case 'adapter':
        if (value === '') throw new ModelfileError('ADAPTER needs a file path', lineNo);
        mf.adapters.push(value);
        break;
      case 'license':
        mf.license.push(value);
        break;
      case 'message':
        mf.messages.push({ role: role ?? 'user', content: value });
        break;
    }
  }

  if (!fromLine)
    throw new ModelfileError('no FROM line: a Modelfile must start from a model name or a GGUF file');
  return mf;
}

function setParameter(params: Record<string, unknown>, name: string, text: string, line: number): void {
  try {
    if (parameterType(name) === 'string[]') {
      const list = (params[name] as string[] | undefined) ?? [];
      list.push(text);
      params[name] = list;
    } else {
      params[name] = parseParameterText(name, text);
    }
  } catch (e) {
    if (e instanceof ParameterValueError) throw new ModelfileError(e.message, line);
    throw e;
  }
}

/**
 * Quotes a value so parseModelfile reads it back unchanged: Ollama's rule (newline or edge spaces
 * → quoted, `"""` when it holds a `"`), plus values that start with `"` or are empty.
 */
export function quoteModelfileValue(s: string): string {
  if (s === '') return '""';
  const needs = s.includes('\n') || /^[ \t"]/.test(s) || /[ \t]$/.test(s);
  if (!needs) return s;
  return s.includes('"') ? `"""${s}"""` : `"${s}"`;
}

/** Options for formatModelfile. */
export interface FormatModelfileOptions {
  /**
   * Short model name for `ollama show`'s comment header ("# FROM tiny:latest"). Defaults to no
   * header.
   */
  shortName?: string;
}

/**
 * Renders a Modelfile the way `ollama show --modelfile` prints it: FROM, ADAPTER, TEMPLATE, SYSTEM,
 * PARAMETER (one line per `stop` entry), LICENSE, MESSAGE.
 */
export function formatModelfile(mf: Modelfile, opts: FormatModelfileOptions = {}): string {
  const out: string[] = [];
  if (opts.shortName !== undefined) {
    out.push('# Modelfile generated by "ollama show"');
    out.push('# To build a new Modelfile based on this, replace FROM with:');
    out.push(`# FROM ${opts.shortName}`);
    out.push('');
  }
  out.push(`FROM ${mf.from}`);
  for (const a of mf.adapters) out.push(`ADAPTER ${quoteModelfileValue(a)}`);
  if (mf.template !== undefined) out.push(`TEMPLATE ${quoteModelfileValue(mf.template)}`);
  if (mf.system) out.push(`SYSTEM ${quoteModelfileValue(mf.system)}`);
  for (const [k, v] of parameterEntries(mf.parameters)) {
    out.push(`PARAMETER ${k} ${quoteModelfileValue(formatParameterValue(v))}`);
  }
  for (const l of mf.license) out.push(`LICENSE ${quoteModelfileValue(l)}`);
  for (const msg of mf.messages) out.push(`MESSAGE ${msg.role} ${quoteModelfileValue(msg.content)}`);
  return out.join('\n') + '\n';
}
