/**
 * `/set parameter NAME VALUE...`: values are typed by the same PARAMETER table the Modelfile
 * parser uses (Ollama's Options/Runner fields), so a REPL session and a Modelfile accept exactly
 * the same things, and a bad value is refused here rather than sent to the server as a string.
 */
import { PARAMETER_TYPES, ParameterValueError, parseParameterText } from '@corral/registry';

export class ParameterError extends Error {}

/** `"<|im_end|>"` → `<|im_end|>`: stop words are usually written quoted, as in a Modelfile. */
function unquote(s: string): string {
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

/** Coerces the words after the parameter name; throws ParameterError naming the problem. */
export function coerceParameter(name: string, values: string[]): number | boolean | string[] {
  try {
    if (PARAMETER_TYPES[name] === 'string[]') {
      return values.map((v) => String(parseParameterText(name, unquote(v))));
    }
    if (values.length !== 1) {
      throw new ParameterError(`parameter '${name}' takes one value, got ${values.length}`);
    }
    return parseParameterText(name, values[0] ?? '') as number | boolean;
  } catch (err) {
    if (err instanceof ParameterValueError) throw new ParameterError(err.message);
    throw err;
  }
}

/**
 * Sets `name` in `options` (mutating it). `stop` accumulates across calls, without duplicates, so
 * a session adds stop words one at a time as a Modelfile does with repeated PARAMETER lines.
 */
export function applyParameter(options: Record<string, unknown>, name: string, values: string[]): unknown {
  const value = coerceParameter(name, values);
  if (Array.isArray(value)) {
    const merged = Array.isArray(options[name]) ? [...(options[name] as string[])] : [];
    for (const v of value) if (!merged.includes(v)) merged.push(v);
    options[name] = merged;
    return merged;
  }
  options[name] = value;
  return value;
}
