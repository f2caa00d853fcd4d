import { CorralError } from '@corral/common';
import { coerceParameters, formatModelfile, ModelfileError, parseModelfile } from './modelfile';

function parseError(text: string): ModelfileError {
  try {
    parseModelfile(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ModelfileError);
    return e as ModelfileError;
  }
  throw new Error('expected a parse error');
}

describe('parseModelfile', () => {
  it('reads every command, case-insensitively, with comments and blank lines', () => {
    const mf = parseModelfile(
      [
        '# a comment',
        'from llama3.2',
        '',
        'Parameter temperature 0.7',
        'PARAMETER num_ctx 4096',
        'PARAMETER use_mmap false',
        'PARAMETER stop <|im_end|>',
        'PARAMETER stop "User:"',
        'TEMPLATE {{ .Prompt }}',
        'SYSTEM You are a pirate.',
        'ADAPTER ./lora.gguf',
        'LICENSE MIT',
        'license "second licence"',
        'MESSAGE user Hello there',
        'MESSAGE assistant Ahoy',
        '   # indented comment',
      ].join('\n'),
    );
    expect(mf).toEqual({
      from: 'llama3.2',
      parameters: { temperature: 0.7, num_ctx: 4096, use_mmap: false, stop: ['<|im_end|>', 'User:'] },
      template: '{{ .Prompt }}',
      system: 'You are a pirate.',
      adapters: ['./lora.gguf'],
      license: ['MIT', 'second licence'],
      messages: [
        { role: 'user', content: 'Hello there' },
        { role: 'assistant', content: 'Ahoy' },
      ],
    });
  });

  it('reads """ multi-line strings verbatim, and " strings that span lines', () => {
    const mf = parseModelfile(
      'FROM x\nTEMPLATE """{{ if .System }}<|system|>\n{{ .System }}\n{{ end }}  "quoted" inside\n"""\nSYSTEM "  two\nlines  "\r\nLICENSE """one line"""\n',
    );
    expect(mf.template).toBe('{{ if .System }}<|system|>\n{{ .System }}\n{{ end }}  "quoted" inside\n');
    expect(mf.system).toBe('  two\nlines  ');
    expect(mf.license).toEqual(['one line']);
  });

  it('keeps # inside values and trims unquoted values', () => {
    const mf = parseModelfile('FROM   tiny   \nSYSTEM   say #1 first   \n');
    expect(mf.from).toBe('tiny');
    expect(mf.system).toBe('say #1 first');
  });

  it('coerces parameter types like Go strconv', () => {
    const mf = parseModelfile(
      'FROM x\nPARAMETER seed -1\nPARAMETER top_p .9\nPARAMETER min_p 5e-2\nPARAMETER penalize_newline T\nPARAMETER mirostat 2\nPARAMETER num_gpu +3',
    );
    expect(mf.parameters).toEqual({
      seed: -1,
      top_p: 0.9,
      min_p: 0.05,
      penalize_newline: true,
      mirostat: 2,
      num_gpu: 3,
    });
  });

  it('names an unknown parameter and its line', () => {
    const e = parseError('FROM x\n\nPARAMETER foo 1\n');
    expect(e.code).toBe('invalid_modelfile');
    expect(e.line).toBe(3);
    expect(e.message).toBe("(line 3): unknown parameter 'foo'");
  });

  it.each([
    ['PARAMETER temperature hot', "invalid value 'hot' for parameter 'temperature': expected a number"],
    ['PARAMETER num_ctx 4096.5', "invalid value '4096.5' for parameter 'num_ctx': expected an integer"],
    ['PARAMETER use_mmap yes', "invalid value 'yes' for parameter 'use_mmap': expected true or false"],
    ['PARAMETER top_k NaN', "invalid value 'NaN' for parameter 'top_k'"],
    ['PARAMETER temperature', "parameter 'temperature' needs a value"],
    ['PARAMETER temp-x 1', "invalid parameter name 'temp-x'"],
    ['MESSAGE bot hi', 'message role must be one of "system", "user", or "assistant" (got \'bot\')'],
    ['FOO bar', "unknown command 'FOO'"],
    ['FROM: x', "unknown command 'FROM:'"],
    ['SYSTEM', 'SYSTEM needs a value'],
    ['RENDERER qwen3', 'RENDERER is not supported'],
    ['FROM y', 'only one FROM line is supported (first one on line 1)'],
  ])('line 2 %j → %s', (line, msg) => {
    const e = parseError(`FROM x\n${line}\n`);
    expect(e.line).toBe(2);
    expect(e.message).toContain(msg);
  });

  it('reports an unterminated string at the line it opened', () => {
    const e = parseError('FROM x\nSYSTEM hi\nTEMPLATE """never\nclosed\n');
    expect(e.line).toBe(3);
    expect(e.message).toContain('unterminated');
  });

  it('requires FROM', () => {
    const e = parseError('# nothing\nSYSTEM hi\n');
    expect(e.line).toBeUndefined();
    expect(e.message).toMatch(/no FROM line/);
  });

  it('ignores a UTF-8 BOM and CRLF line ends', () => {
    expect(parseModelfile('\uFEFFFROM x\r\nPARAMETER top_k 3\r\n').parameters).toEqual({ top_k: 3 });
  });
});

describe('formatModelfile', () => {
  it('prints what `ollama show --modelfile` prints and parses back to the same Modelfile', () => {
    const mf = {
      from: '/models/blobs/sha256-abc',
      adapters: ['/models/blobs/sha256-def'],
      template: '{{ .System }}\nUSER: {{ .Prompt }}',
      system: '"Quoted" start',
      parameters: { temperature: 0.7, stop: ['</s>', 'USER:'], num_ctx: 4096 },
      license: ['MIT'],
      messages: [{ role: 'user' as const, content: ' padded ' }],
    };
    const text = formatModelfile(mf, { shortName: 'tiny:latest' });
    expect(text).toBe(
      [
        '# Modelfile generated by "ollama show"',
        '# To build a new Modelfile based on this, replace FROM with:',
        '# FROM tiny:latest',
        '',
        'FROM /models/blobs/sha256-abc',
        'ADAPTER /models/blobs/sha256-def',
        'TEMPLATE "{{ .System }}\nUSER: {{ .Prompt }}"',
        'SYSTEM """"Quoted" start"""',
        'PARAMETER num_ctx 4096',
        'PARAMETER stop </s>',
        'PARAMETER stop USER:',
        'PARAMETER temperature 0.7',
        'LICENSE MIT',
        'MESSAGE user " padded "',
        '',
      ].join('\n'),
    );
    expect(parseModelfile(text)).toEqual(mf);
  });
});

describe('coerceParameters', () => {
  it('validates a JSON parameters object with the same table', () => {
    expect(
      coerceParameters({ temperature: 1, stop: 'x', num_ctx: '2048', use_mmap: true, top_k: null }),
    ).toEqual({
      temperature: 1,
      stop: ['x'],
      num_ctx: 2048,
      use_mmap: true,
    });
    expect(() => coerceParameters({ foo: 1 })).toThrow("unknown parameter 'foo'");
    expect(() => coerceParameters({ num_ctx: 1.5 })).toThrow(
      "invalid value 1.5 for parameter 'num_ctx': expected an integer",
    );
    expect(() => coerceParameters({ stop: [1] })).toThrow(/parameter 'stop'/);
    expect(() => coerceParameters([1])).toThrow(CorralError);
  });
});
