/**
 * Real Ollama templates rendering real conversations (system prompt, tool definitions, an
 * assistant tool call, a tool result, follow-ups), compared with what Ollama's Go code produces.
 */
import { CorralError } from '@corral/common';
import type { ChatMessage, ToolDef } from '@corral/worker-protocol';
import { OllamaTemplate, collate, parseTemplate } from './ollama-template';
import { PLAIN_CONVERSATION, TOOL_CONVERSATION, WEATHER_TOOLS } from './testdata/conversations';
import { GO_EXPECTED } from './testdata/go-expected';
import * as T from './testdata/ollama-templates';

interface Case {
  template: string;
  messages?: ChatMessage[];
  tools?: ToolDef[];
  prompt?: string;
  suffix?: string;
  think?: boolean;
}

const CASES: Record<string, Case> = {};
for (const [name, template] of Object.entries(T)) {
  CASES[`${name}:tools`] = { template, messages: TOOL_CONVERSATION, tools: WEATHER_TOOLS };
  CASES[`${name}:plain`] = { template, messages: PLAIN_CONVERSATION };
  CASES[`${name}:single`] = { template, messages: [{ role: 'user', content: 'Why is the sky blue?' }] };
}
Object.assign(CASES, {
  fim: {
    template: '{{ if .Suffix }}<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>{{ else }}{{ .Prompt }}{{ end }}',
    prompt: 'def f(',
    suffix: 'return x',
    messages: [],
  },
  think: {
    template: '{{ range .Messages }}{{ .Content }}{{ end }}|{{ .Think }}|{{ .ThinkLevel }}|{{ .IsThinkSet }}',
    messages: [{ role: 'user', content: 'q' }],
    think: true,
  },
  'json-tools': {
    template:
      '{{ json .Tools }}|{{ .Tools }}|{{ range .Tools }}{{ .Function.Parameters }}|{{ range $k, $v := .Function.Parameters.Properties }}{{ $k }}={{ $v.Type }}:{{ $v.Description }};{{ end }}{{ end }}{{ range .Messages }}{{ .Role }}{{ end }}',
    messages: [{ role: 'user', content: 'q' }],
    tools: WEATHER_TOOLS,
  },
  'legacy-response-in-if': {
    template: '{{ if .System }}S:{{ .System }} {{ end }}U:{{ .Prompt }} A:{{ .Response }} END',
    messages: PLAIN_CONVERSATION,
  },
  'legacy-pipe-after-response': {
    template: 'U:{{ .Prompt }} A:{{ .Response | print }}!',
    messages: PLAIN_CONVERSATION,
  },
} satisfies Record<string, Case>);

describe('Ollama templates render exactly as Ollama renders them', () => {
  it('covers every case Go rendered', () => {
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(GO_EXPECTED).sort());
  });

  it.each(Object.keys(CASES))('%s', (name) => {
    const c = CASES[name] as Case;
    const out = OllamaTemplate.parse(c.template).execute(c);
    expect(out).toBe(GO_EXPECTED[name]);
  });

  it('qwen2.5: tool schemas as JSON, the call and its result in ChatML', () => {
    const out = OllamaTemplate.parse(T.QWEN25).execute({ messages: TOOL_CONVERSATION, tools: WEATHER_TOOLS });
    expect(out).toContain(
      '{"type": "function", "function": {"name":"get_time","description":"Current time","parameters":{"type":"object","properties":{}}}}\n</tools>',
    );
    // Arguments print as JSON with Go's sorted keys, whatever order the client sent.
    expect(out).toContain(
      '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city":"Paris","unit":"celsius"}}\n</tool_call><|im_end|>\n',
    );
    expect(out).toContain('<|im_start|>user\n<tool_response>\n{"temp": 21}\n</tool_response><|im_end|>\n');
    expect(out.endsWith('<|im_start|>user\nAnd in Rome?<|im_end|>\n<|im_start|>assistant\n')).toBe(true);
  });

  it('legacy templates render each turn and stop right after the last {{ .Response }}', () => {
    const out = OllamaTemplate.parse(T.PHI3).execute({ messages: PLAIN_CONVERSATION });
    expect(out).toBe(
      '<|system|>\nBe nice.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello! How can I help?<|end|>' +
        '<|user|>\nTell me a joke.\n\nA short one.<|end|>\n<|assistant|>\n',
    );
  });
});

describe('OllamaTemplate', () => {
  it('lists the variables a template uses, lower-cased, as Ollama does', () => {
    expect(OllamaTemplate.parse(T.PHI3).vars).toEqual(['prompt', 'response', 'system']);
    expect(OllamaTemplate.parse('{{ range $i, $m := $.Messages }}{{ $m.Content }}{{ end }}').vars).toEqual([
      '$',
      '$m',
      'content',
      'messages',
    ]);
  });

  it('knows fill-in-the-middle support from .Suffix', () => {
    expect(OllamaTemplate.parse('{{ .Prompt }}{{ .Suffix }}').supportsSuffix).toBe(true);
    expect(OllamaTemplate.parse(T.CHATML).supportsSuffix).toBe(false);
  });

  it('collates consecutive same-role messages but keeps tool results apart', () => {
    const { system, messages } = collate([
      { role: 'system', content: 'a' },
      { role: 'system', content: 'b' },
      { role: 'tool', content: '1' },
      { role: 'tool', content: '2' },
    ]);
    expect(system).toBe('a\n\nb');
    expect(messages.map((m) => m.content)).toEqual(['a\n\nb', '1', '2']);
  });

  it('rejects a bad TEMPLATE with a 400-class error naming line and column', () => {
    let err: unknown;
    try {
      parseTemplate('{{ if .System }}\n{{ .System }\n{{ end }}');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CorralError);
    expect(err).toMatchObject({ code: 'invalid_modelfile', status: 400 });
    expect((err as Error).message).toBe('template: :2:12: unexpected "}" in operand');
  });

  it('turns an execution error into a bad_request naming the spot', () => {
    const t = OllamaTemplate.parse('{{ range .Messages }}{{ .Nope }}{{ end }}');
    expect(() => t.execute({ messages: [{ role: 'user', content: 'x' }] })).toThrow(
      'template: :1:25: executing "" at <.Nope>: can\'t evaluate field Nope in type *template.templateMessage',
    );
  });

  it('like Ollama, does not see .Messages inside a chained term and falls back to the legacy path', () => {
    const t = OllamaTemplate.parse('{{ (index .Messages 0).Content }}');
    expect(t.usesMessages).toBe(false);
  });

  it('offers Ollama functions: json, currentDate, toTypeScriptType', () => {
    const t = OllamaTemplate.parse(
      '{{ currentDate }}|{{ range .Tools }}{{ range $k, $v := .Function.Parameters.Properties }}{{ $k }}: {{ toTypeScriptType $v }}; {{ end }}{{ end }}{{ toTypeScriptType "x" }}{{ range .Messages }}{{ json .Content }}{{ end }}',
    );
    const out = t.execute({ messages: [{ role: 'user', content: '<hi>' }], tools: WEATHER_TOOLS });
    expect(out).toMatch(/^\d{4}-\d{2}-\d{2}\|/);
    expect(out.slice(11)).toBe('city: string; days: number | null; unit: string; any"\\u003chi\\u003e"');
  });
});
