/**
 * The values Ollama hands to a TEMPLATE, rebuilt with Go semantics: field names and order of
 * Ollama's template types, `String()` methods where Ollama's types have them (tools, tool
 * functions, parameters and call arguments print as JSON, which templates such as qwen2.5's
 * `{{ .Function }}` and llama3.1's `{{ . }}` rely on), and encoding/json output for `json`.
 *
 * Tool schemas keep only the fields Ollama's api.ToolProperty has (anyOf, type, items,
 * description, enum, properties): Ollama decodes into those structs, so other keys never reach
 * its templates either.
 */
import type { ChatMessage, ToolDef } from '@corral/worker-protocol';
import { goJson, fmtV } from './go-template/format';
import { GoStruct, OrderedObject, withJson, withStringer, withTypeName } from './go-template/values';

/** Ollama's `think` request value: a bool, or a level for models that take one. */
export type ThinkSetting = boolean | 'low' | 'medium' | 'high';

export interface ThinkValues {
  Think: boolean;
  ThinkLevel: string;
  IsThinkSet: boolean;
}

/** Mirrors api.ThinkValue's Bool() and String(). */
export function thinkValues(think: ThinkSetting | undefined): ThinkValues {
  if (think === undefined) return { Think: false, ThinkLevel: '', IsThinkSet: false };
  if (typeof think === 'boolean')
    return { Think: think, ThinkLevel: think ? 'medium' : '', IsThinkSet: true };
  return { Think: true, ThinkLevel: think, IsThinkSet: true };
}

const stringer = <T extends GoStruct>(s: T): string => goJson(s);

function jsonCopy(v: unknown): unknown {
  if (v === undefined) return null;
  return JSON.parse(JSON.stringify(v)) as unknown;
}

function argumentsMap(args: Record<string, unknown>): Record<string, unknown> {
  const m = jsonCopy(args) as Record<string, unknown>;
  withTypeName(m, 'template.templateArgs');
  return withStringer(m, () => goJson(m));
}

export function templateMessage(m: ChatMessage): GoStruct {
  const toolCalls = (m.toolCalls ?? []).map(
    (tc, i) =>
      new GoStruct('template.templateToolCall', {
        ID: tc.id ?? '',
        Function: new GoStruct('template.templateToolCallFunction', {
          Index: i,
          Name: tc.name,
          Arguments: argumentsMap(tc.arguments),
        }),
      }),
  );
  return new GoStruct('*template.templateMessage', {
    Role: m.role,
    Content: m.content,
    Thinking: m.thinking ?? '',
    Images: [],
    ToolCalls: toolCalls,
    ToolName: m.toolName ?? '',
    ToolCallID: '',
  });
}

/** PropertyType: a string or a list of them; prints and encodes as one string when it has one. */
function propertyType(t: unknown): string[] {
  const list =
    typeof t === 'string' ? [t] : Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : [];
  withTypeName(list, 'api.PropertyType');
  withStringer(list, () => (list.length === 1 ? (list[0] ?? '') : list.length === 0 ? '' : fmtV([...list])));
  return withJson(list, () => (list.length === 1 ? list[0] : [...list]));
}

const omitEmpty = (v: unknown): boolean =>
  v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);

function ordered(entries: [string, unknown, boolean][]): OrderedObject {
  return new OrderedObject(
    entries.filter(([, v, omit]) => !(omit && omitEmpty(v))).map(([k, v]) => [k, v] as const),
  );
}

const TS_TYPES: Record<string, string> = {
  string: 'string',
  number: 'number',
  integer: 'number',
  boolean: 'boolean',
  array: 'any[]',
  object: 'Record<string, any>',
  null: 'null',
};

function toolProperty(schema: unknown): GoStruct {
  const s = (typeof schema === 'object' && schema !== null ? schema : {}) as Record<string, unknown>;
  const anyOf = Array.isArray(s.anyOf) ? s.anyOf.map(toolProperty) : [];
  const type = propertyType(s.type);
  const props = propertiesMap(s.properties);
  const fields = {
    AnyOf: anyOf,
    Type: type,
    Items: jsonCopy(s.items),
    Description: typeof s.description === 'string' ? s.description : '',
    Enum: Array.isArray(s.enum) ? (jsonCopy(s.enum) as unknown[]) : [],
    Properties: props,
  };
  const tsType = (): string => {
    if (anyOf.length)
      return anyOf.map((a) => String(a.hooks.methods?.ToTypeScriptType?.() ?? 'any')).join(' | ');
    if (type.length === 0) return 'any';
    return type.map((t) => TS_TYPES[t] ?? 'any').join(' | ');
  };
  const self: GoStruct = new GoStruct('api.ToolProperty', fields, {
    json: () =>
      ordered([
        ['anyOf', anyOf, true],
        ['type', type.length ? type : undefined, true],
        ['items', fields.Items, true],
        ['description', fields.Description, true],
        ['enum', fields.Enum, true],
        ['properties', props, true],
      ]),
    methods: { ToTypeScriptType: tsType },
  });
  return self;
}

function propertiesMap(p: unknown): Record<string, GoStruct> | null {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return null;
  const m: Record<string, GoStruct> = {};
  for (const [k, v] of Object.entries(p)) m[k] = toolProperty(v);
  withTypeName(m, 'template.templateProperties');
  return withStringer(m, () => goJson(m));
}

export function templateTool(t: ToolDef): GoStruct {
  const p = (t.parameters ?? {}) as Record<string, unknown>;
  const required = Array.isArray(p.required)
    ? p.required.filter((x): x is string => typeof x === 'string')
    : [];
  const parameters: GoStruct = new GoStruct(
    'api.ToolFunctionParameters',
    {
      Type: typeof p.type === 'string' ? p.type : '',
      Defs: jsonCopy(p.$defs),
      Items: jsonCopy(p.items),
      Required: required,
      Properties: propertiesMap(p.properties),
    },
    {
      string: () => stringer(parameters),
      json: () =>
        ordered([
          ['type', parameters.fields.Type, false],
          ['$defs', parameters.fields.Defs, true],
          ['items', parameters.fields.Items, true],
          ['required', required, true],
          ['properties', parameters.fields.Properties, false],
        ]),
    },
  );
  const fn: GoStruct = new GoStruct(
    'api.ToolFunction',
    { Name: t.name, Description: t.description ?? '', Parameters: parameters },
    {
      string: () => stringer(fn),
      json: () =>
        ordered([
          ['name', t.name, false],
          ['description', t.description ?? '', true],
          ['parameters', parameters, false],
        ]),
    },
  );
  const tool: GoStruct = new GoStruct(
    'api.Tool',
    { Type: 'function', Items: null, Function: fn },
    {
      string: () => stringer(tool),
      json: () =>
        ordered([
          ['type', 'function', false],
          ['function', fn, false],
        ]),
    },
  );
  return tool;
}

/** `.Tools`: nil (falsy) without tools; prints as a JSON array. */
export function templateTools(tools: ToolDef[] | undefined): GoStruct[] | null {
  if (!tools) return null;
  const list = tools.map(templateTool);
  withTypeName(list, 'api.Tools');
  return withStringer(list, () => goJson(list));
}

/** Ollama's template functions beyond Go's builtins. */
export const OLLAMA_FUNCS = {
  json: (v: unknown): string => goJson(v),
  currentDate: (): string => isoDate(new Date()),
  yesterdayDate: (): string => isoDate(new Date(Date.now() - 86_400_000)),
  toTypeScriptType: (v: unknown): string => {
    const m =
      v instanceof GoStruct && v.typeName === 'api.ToolProperty'
        ? v.hooks.methods?.ToTypeScriptType
        : undefined;
    return m ? String(m()) : 'any';
  },
};

function isoDate(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}
