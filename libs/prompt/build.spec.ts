import { CorralError } from '@corral/common';
import type { ResolvedModel } from '@corral/registry';
import { buildChatPrompt, buildGeneratePrompt, fallbackTranscript } from './build';
import { CHATML, QWEN25 } from './testdata/ollama-templates';
import { WEATHER_TOOLS } from './testdata/conversations';

function model(over: Partial<ResolvedModel> & { chatTemplate?: string } = {}): ResolvedModel {
  const { chatTemplate, ...rest } = over;
  return {
    name: 'tiny:latest',
    fullName: 'registry.ollama.ai/library/tiny:latest',
    digest: 'sha256:0',
    modelDigest: 'sha256:1',
    modelPath: '/models/tiny.gguf',
    adapters: [],
    parameters: {},
    messages: [],
    license: [],
    gguf: {
      version: 3,
      architecture: 'llama',
      type: 'model',
      parameterCount: 1,
      parameterSize: '1',
      fileType: 'F32',
      isEmbedding: false,
      tensorCount: 1,
      fileSize: 1,
      modelInfo: {},
      ...(chatTemplate ? { chatTemplate } : {}),
    },
    size: 1,
    modifiedAt: new Date(0),
    capabilities: ['completion'],
    details: {
      parent_model: '',
      format: 'gguf',
      family: 'llama',
      families: null,
      parameter_size: '1',
      quantization_level: 'F32',
    },
    ...rest,
  };
}

const JINJA = '{% for m in messages %}{{ m.content }}{% endfor %}';
const FEW_SHOT = [
  { role: 'user' as const, content: 'ping' },
  { role: 'assistant' as const, content: 'pong' },
];

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
}

describe('buildGeneratePrompt', () => {
  it('raw: the prompt goes to the model untouched', () => {
    const m = model({ template: CHATML, system: 'sys' });
    expect(buildGeneratePrompt(m, { prompt: '<|im_start|>x', raw: true, system: 'ignored' })).toEqual({
      kind: 'text',
      text: '<|im_start|>x',
      addBos: true,
    });
  });

  it("renders the model's TEMPLATE with its SYSTEM and MESSAGEs before the prompt", () => {
    const m = model({ template: CHATML, system: 'Be brief.', messages: FEW_SHOT });
    expect(buildGeneratePrompt(m, { prompt: 'Hi' })).toEqual({
      kind: 'text',
      addBos: true,
      text:
        '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nping<|im_end|>\n' +
        '<|im_start|>assistant\npong<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    });
  });

  it("a request system replaces the model's; a request template replaces the model's", () => {
    const m = model({ template: CHATML, system: 'model sys' });
    const p = buildGeneratePrompt(m, {
      prompt: 'Hi',
      system: 'req sys',
      template: '[{{ .System }}] {{ .Prompt }}',
    });
    expect(p).toEqual({ kind: 'text', text: '[req sys] Hi', addBos: true });
  });

  it('with context, skips the model MESSAGEs and prepends the detokenized context', () => {
    const m = model({
      template: '{{ range .Messages }}<{{ .Role }}:{{ .Content }}>{{ end }}',
      messages: FEW_SHOT,
    });
    const p = buildGeneratePrompt(m, { prompt: 'again', context: [1, 2], contextText: 'EARLIER ' });
    expect(p).toEqual({ kind: 'text', text: 'EARLIER <user:again>', addBos: true });
  });

  it('refuses a request template that does not parse, naming the field and position', () => {
    const err = thrown(() => buildGeneratePrompt(model(), { prompt: 'x', template: '{{ .Prompt ' }));
    expect(err).toBeInstanceOf(CorralError);
    expect(err).toMatchObject({
      code: 'bad_request',
      param: 'template',
      message: 'template: :1:12: unclosed action',
    });
  });

  it('without a Go template, hands a GGUF chat template model the messages to render', () => {
    const m = model({ chatTemplate: JINJA, system: 'sys', messages: FEW_SHOT });
    expect(buildGeneratePrompt(m, { prompt: 'Hi', think: true })).toEqual({
      kind: 'chat',
      messages: [{ role: 'system', content: 'sys' }, ...FEW_SHOT, { role: 'user', content: 'Hi' }],
      think: true,
    });
  });

  it("with no template at all, uses Ollama's default {{ .Prompt }} (no system text)", () => {
    expect(buildGeneratePrompt(model({ system: 'sys' }), { prompt: 'Once upon a time' })).toEqual({
      kind: 'text',
      text: 'Once upon a time',
      addBos: true,
    });
  });

  it('fills in the middle with a template that uses .Suffix, and refuses models without one', () => {
    const fim = model({
      template:
        '{{ if .Suffix }}<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>{{ else }}{{ .Prompt }}{{ end }}',
    });
    expect(buildGeneratePrompt(fim, { prompt: 'def f(', suffix: 'return 1' })).toEqual({
      kind: 'text',
      text: '<PRE> def f( <SUF>return 1 <MID>',
      addBos: true,
    });
    expect(
      thrown(() => buildGeneratePrompt(model({ template: CHATML }), { prompt: 'a', suffix: 'b' })),
    ).toMatchObject({
      code: 'bad_request',
      message: '"tiny:latest" does not support insert',
    });
  });
});

describe('buildChatPrompt', () => {
  const user = { role: 'user' as const, content: 'Hi' };

  it('prepends the model SYSTEM and MESSAGEs when the request has no system message', () => {
    const m = model({
      template: '{{ range .Messages }}<{{ .Role }}:{{ .Content }}>{{ end }}',
      system: 'S',
      messages: FEW_SHOT,
    });
    expect(buildChatPrompt(m, { messages: [user] })).toEqual({
      kind: 'text',
      text: '<system:S><user:ping><assistant:pong><user:Hi>',
      addBos: true,
    });
  });

  it("a request system message replaces the model's SYSTEM", () => {
    const m = model({ template: '{{ .System }}|{{ range .Messages }}{{ .Role }} {{ end }}', system: 'S' });
    const p = buildChatPrompt(m, { messages: [{ role: 'system', content: 'mine' }, user] });
    expect(p).toEqual({ kind: 'text', text: 'mine|system user ', addBos: true });
  });

  it('renders tools through the Go template', () => {
    const p = buildChatPrompt(model({ template: QWEN25 }), { messages: [user], tools: WEATHER_TOOLS });
    expect(p.kind).toBe('text');
    expect(p.kind === 'text' && p.text).toContain(
      '<tools>\n{"type": "function", "function": {"name":"get_weather"',
    );
  });

  it('a request template overrides the model template', () => {
    const p = buildChatPrompt(model({ template: QWEN25 }), {
      messages: [user],
      template: '{{ range .Messages }}{{ .Content }}{{ end }}!',
    });
    expect(p).toEqual({ kind: 'text', text: 'Hi!', addBos: true });
  });

  it('leaves a GGUF chat template to the worker, with tools and think', () => {
    const m = model({ chatTemplate: JINJA, system: 'S' });
    expect(buildChatPrompt(m, { messages: [user], tools: WEATHER_TOOLS, think: false })).toEqual({
      kind: 'chat',
      messages: [{ role: 'system', content: 'S' }, user],
      tools: WEATHER_TOOLS,
      think: false,
    });
    expect(buildChatPrompt(m, { messages: [user], tools: [] })).toEqual({
      kind: 'chat',
      messages: [{ role: 'system', content: 'S' }, user],
    });
  });

  it('prefers the Go TEMPLATE over the GGUF chat template, as Ollama only knows the former', () => {
    const m = model({ chatTemplate: JINJA, template: '{{ range .Messages }}{{ .Content }}{{ end }}' });
    expect(buildChatPrompt(m, { messages: [user] })).toEqual({ kind: 'text', text: 'Hi', addBos: true });
  });

  it('with no template at all, writes a plain transcript ending in an open assistant turn', () => {
    const p = buildChatPrompt(model({ system: 'Be nice.' }), {
      messages: [
        user,
        { role: 'assistant', content: '', toolCalls: [{ name: 'get_time', arguments: {} }] },
        { role: 'tool', content: '12:00', toolName: 'get_time' },
      ],
      tools: [{ name: 'get_time', description: 'Time' }],
    });
    expect(p).toEqual({
      kind: 'text',
      addBos: true,
      text:
        'System: Be nice.\nTools:\n{"name":"get_time","description":"Time"}\n\nUser: Hi\n\n' +
        'Assistant: {"name":"get_time","arguments":{}}\n\nTool (get_time): 12:00\n\nAssistant:',
    });
  });

  it('the transcript lists tools first when there is no system message', () => {
    expect(fallbackTranscript([user], [{ name: 't' }])).toBe(
      'Tools:\n{"name":"t"}\n\nUser: Hi\n\nAssistant:',
    );
  });
});
