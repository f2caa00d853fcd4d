import { parseCommand } from './commands';
import { InputAssembler } from './input';
import { coerceParameter, ParameterError } from './parameters';
import { ReplSession } from './session';

describe('REPL command parser', () => {
  it.each([
    ['/set parameter temperature 0.5', { type: 'set-parameter', name: 'temperature', values: ['0.5'] }],
    ['/set parameter stop <|a|> <|b|>', { type: 'set-parameter', name: 'stop', values: ['<|a|>', '<|b|>'] }],
    ['/set system "You are  a pirate."', { type: 'set-system', text: 'You are  a pirate.' }],
    ['/set system plain words', { type: 'set-system', text: 'plain words' }],
    ['/set system """one line"""', { type: 'set-system', text: 'one line' }],
    ['/set verbose', { type: 'set-flag', flag: 'verbose' }],
    ['/set quiet', { type: 'set-flag', flag: 'quiet' }],
    ['/set nothink', { type: 'set-flag', flag: 'nothink' }],
    ['/set think', { type: 'set-think', level: undefined }],
    ['/set think high', { type: 'set-think', level: 'high' }],
    ['/set format json', { type: 'set-format', format: 'json' }],
    ['/show info', { type: 'show', topic: 'info' }],
    ['/show modelfile', { type: 'show', topic: 'modelfile' }],
    ['/save my-model', { type: 'save', name: 'my-model' }],
    ['/load other:7b', { type: 'load', name: 'other:7b' }],
    ['/clear', { type: 'clear' }],
    ['/bye', { type: 'bye' }],
    ['/exit', { type: 'bye' }],
    ['/?', { type: 'help' }],
    ['/help show', { type: 'help', topic: 'show' }],
    ['/? shortcuts', { type: 'help', topic: 'shortcuts' }],
  ])('%s', (line, expected) => expect(parseCommand(line)).toEqual(expected));

  it('answers bad commands with Ollama’s messages instead of failing', () => {
    expect(parseCommand('/frobnicate')).toEqual({
      type: 'message',
      text: "Unknown command '/frobnicate'. Type /? for help",
    });
    expect(parseCommand('/set colour red')).toEqual({
      type: 'message',
      text: "Unknown command '/set colour'. Type /? for help",
    });
    expect(parseCommand('/show weights')).toEqual({
      type: 'message',
      text: "Unknown command '/show weights'. Type /? for help",
    });
    expect(parseCommand('/set format yaml')).toMatchObject({
      text: expect.stringContaining("use '/set format json'"),
    });
    expect(parseCommand('/save')).toEqual({ type: 'message', text: 'Usage:\n  /save <modelname>' });
    expect(parseCommand('/set parameter temperature')).toEqual({
      type: 'message',
      text: '',
      usage: 'parameters',
    });
    expect(parseCommand('/set')).toEqual({ type: 'message', text: '', usage: 'set' });
    expect(parseCommand('/show')).toEqual({ type: 'message', text: '', usage: 'show' });
    // A prefix is not the command: "/settings" is not "/set".
    expect(parseCommand('/settings')).toMatchObject({ type: 'message' });
  });
});

describe('multi-line input', () => {
  it('passes single lines through and ignores blank ones', () => {
    const a = new InputAssembler();
    expect(a.feed('hello there')).toEqual({ kind: 'prompt', text: 'hello there' });
    expect(a.feed('   ')).toEqual({ kind: 'empty' });
    expect(a.feed('/bye')).toEqual({ kind: 'command', command: { type: 'bye' } });
  });

  it('collects lines between """ markers into one message', () => {
    const a = new InputAssembler();
    expect(a.feed('"""first line')).toEqual({ kind: 'continue' });
    expect(a.inMultiline).toBe(true);
    expect(a.feed('/bye is just text here')).toEqual({ kind: 'continue' });
    expect(a.feed('')).toEqual({ kind: 'continue' });
    expect(a.feed('last"""')).toEqual({ kind: 'prompt', text: 'first line\n/bye is just text here\n\nlast' });
    expect(a.inMultiline).toBe(false);
    expect(a.feed('"""all on one line"""')).toEqual({ kind: 'prompt', text: 'all on one line' });
  });

  it('collects a multi-line /set system', () => {
    const a = new InputAssembler();
    expect(a.feed('/set system """You are')).toEqual({ kind: 'continue' });
    expect(a.feed('a pirate."""')).toEqual({
      kind: 'command',
      command: { type: 'set-system', text: 'You are\na pirate.' },
    });
  });

  it('drops a half-typed block on reset (Ctrl-C)', () => {
    const a = new InputAssembler();
    a.feed('"""abandoned');
    a.reset();
    expect(a.inMultiline).toBe(false);
    expect(a.feed('fresh')).toEqual({ kind: 'prompt', text: 'fresh' });
  });
});

describe('/set parameter', () => {
  it('coerces values to the parameter’s type', () => {
    expect(coerceParameter('temperature', ['0.5'])).toBe(0.5);
    expect(coerceParameter('num_ctx', ['8192'])).toBe(8192);
    expect(coerceParameter('use_mmap', ['false'])).toBe(false);
    expect(coerceParameter('stop', ['"<|im_end|>"', 'END'])).toEqual(['<|im_end|>', 'END']);
  });

  it('refuses unknown parameters and values of the wrong type', () => {
    expect(() => coerceParameter('temprature', ['0.5'])).toThrow(
      new ParameterError("unknown parameter 'temprature'"),
    );
    expect(() => coerceParameter('temperature', ['hot'])).toThrow(ParameterError);
    expect(() => coerceParameter('num_ctx', ['4k'])).toThrow(ParameterError);
    expect(() => coerceParameter('top_k', ['40', '50'])).toThrow(ParameterError);
  });

  it('updates the session: numbers stay numbers, stop accumulates, errors are reported', () => {
    const s = new ReplSession({ model: 'tiny' });
    expect(s.setParameter('temperature', ['0.5'])).toBe("Set parameter 'temperature' to '0.5'");
    expect(s.setParameter('stop', ['<|a|>'])).toBe("Set parameter 'stop' to '<|a|>'");
    s.setParameter('stop', ['<|b|>', '<|a|>']);
    expect(s.options).toEqual({ temperature: 0.5, stop: ['<|a|>', '<|b|>'] });
    expect(s.setParameter('bogus', ['1'])).toBe(`Couldn't set parameter: "unknown parameter 'bogus'"`);
    expect(s.options).not.toHaveProperty('bogus');
    expect(s.userTurn('hi').options).toEqual({ temperature: 0.5, stop: ['<|a|>', '<|b|>'] });
  });
});

describe('session', () => {
  it('sends the whole conversation each turn, with the session’s modes', () => {
    const s = new ReplSession({ model: 'tiny', keepAlive: '10m' });
    s.setSystem('Be brief.');
    s.setFormat('json');
    s.setFlag('nothink');
    expect(s.userTurn('one')).toEqual({
      model: 'tiny',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'one' },
      ],
      format: 'json',
      keep_alive: '10m',
      think: false,
      stream: true,
    });
    s.assistantTurn('1');
    expect(s.userTurn('two').messages.map((m) => m.content)).toEqual(['Be brief.', 'one', '1', 'two']);
    // An interrupted turn leaves no unanswered question behind.
    s.assistantTurn(undefined);
    expect(s.messages.map((m) => m.content)).toEqual(['Be brief.', 'one', '1']);
  });

  it('replaces a trailing system message, and /clear keeps it', () => {
    const s = new ReplSession({ model: 'tiny' });
    s.setSystem('first');
    s.setSystem('second');
    expect(s.messages).toEqual([{ role: 'system', content: 'second' }]);
    s.userTurn('q');
    s.assistantTurn('a');
    expect(s.clear()).toBe('Cleared session context');
    expect(s.messages).toEqual([{ role: 'system', content: 'second' }]);
  });

  it('/save builds a create request from the running model', () => {
    const s = new ReplSession({ model: 'tiny:latest' });
    s.setSystem('Be brief.');
    s.setParameter('temperature', ['0.2']);
    s.userTurn('hi');
    s.assistantTurn('hello', 'thought about it');
    expect(s.saveRequest('tiny-brief')).toEqual({
      model: 'tiny-brief',
      from: 'tiny:latest',
      system: 'Be brief.',
      parameters: { temperature: 0.2 },
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
      ],
    });
  });
});
