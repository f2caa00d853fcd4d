import { CorralError } from '@corral/common';
import { fullModelName, modelNamesEqual, nameFromPathParts, parseModelName, shortModelName } from './names';

describe('parseModelName', () => {
  it.each([
    ['tiny', 'registry.ollama.ai/library/tiny:latest', 'tiny:latest'],
    ['tiny:1b', 'registry.ollama.ai/library/tiny:1b', 'tiny:1b'],
    ['myns/tiny', 'registry.ollama.ai/myns/tiny:latest', 'myns/tiny:latest'],
    ['library/tiny:q4', 'registry.ollama.ai/library/tiny:q4', 'tiny:q4'],
    ['example.com/myns/tiny:v1', 'example.com/myns/tiny:v1', 'example.com/myns/tiny:v1'],
    ['localhost:5000/myns/tiny', 'localhost:5000/myns/tiny:latest', 'localhost:5000/myns/tiny:latest'],
    ['https://example.com/a/b:c', 'example.com/a/b:c', 'example.com/a/b:c'],
    [
      'Llama3.2:3B-instruct_q4',
      'registry.ollama.ai/library/Llama3.2:3B-instruct_q4',
      'Llama3.2:3B-instruct_q4',
    ],
    ['_x', 'registry.ollama.ai/library/_x:latest', '_x:latest'],
    ['REGISTRY.OLLAMA.AI/LIBRARY/tiny', 'REGISTRY.OLLAMA.AI/LIBRARY/tiny:latest', 'tiny:latest'],
  ])('%s → %s (shown as %s)', (raw, full, short) => {
    const n = parseModelName(raw);
    expect(fullModelName(n)).toBe(full);
    expect(shortModelName(n)).toBe(short);
  });

  it.each([
    ['', /required/],
    ['   ', /required/],
    ['tiny:', /tag after ':' is empty/],
    ['../etc/passwd', /the host '\.\.' must start with/],
    ['../../x', /the host '\.\.'/],
    ['..', /the model '\.\.' must start with/],
    ['.hidden', /the model '\.hidden' must start with/],
    ['a/b/c/d', /at most three parts/],
    ['ns.x/tiny', /the namespace 'ns\.x'/],
    ['tiny:a/b', /at most three parts|namespace/],
    ['ti ny', /the model 'ti ny'/],
    ['tiny:la test', /the tag 'la test'/],
    ['tiny\\..\\x', /the model/],
    ['/tiny', /the namespace is empty/],
    ['tiny:-x', /the tag '-x' must start/],
    ['a'.repeat(81), /the model is longer than 80 characters/],
  ])('rejects %j with bad_request naming the rule', (raw, why) => {
    let err: unknown;
    try {
      parseModelName(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CorralError);
    expect((err as CorralError).code).toBe('bad_request');
    expect((err as CorralError).message).toMatch(why);
  });

  it('rejects non-strings', () => {
    expect(() => parseModelName(undefined)).toThrow(/model name is required/);
    expect(() => parseModelName(42)).toThrow(CorralError);
  });

  it('compares names case-insensitively, like Ollama', () => {
    expect(modelNamesEqual(parseModelName('Tiny:Latest'), parseModelName('tiny'))).toBe(true);
    expect(modelNamesEqual(parseModelName('tiny:a'), parseModelName('tiny:b'))).toBe(false);
  });

  it('reads names back from manifest paths and ignores anything else', () => {
    expect(nameFromPathParts(['registry.ollama.ai', 'library', 'tiny', 'latest'])).toEqual({
      host: 'registry.ollama.ai',
      namespace: 'library',
      model: 'tiny',
      tag: 'latest',
    });
    expect(nameFromPathParts(['registry.ollama.ai', 'library', 'tiny', '.corral-tmp-x'])).toBeUndefined();
    expect(nameFromPathParts(['registry.ollama.ai', 'library', 'tiny'])).toBeUndefined();
  });
});
