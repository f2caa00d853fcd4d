import { normalizeJsonSchema } from './json-schema';

describe('normalizeJsonSchema', () => {
  it('accepts what the grammar enforces, drops annotations and maps anyOf to oneOf', () => {
    expect(
      normalizeJsonSchema({
        title: 'Pet',
        type: 'object',
        properties: {
          kind: { anyOf: [{ const: 'cat' }, { type: 'null' }], title: 'Kind' },
          n: { type: 'integer' },
        },
        required: ['kind'],
      }),
    ).toEqual({
      type: 'object',
      properties: { kind: { oneOf: [{ const: 'cat' }, { type: 'null' }] }, n: { type: 'integer' } },
      required: ['kind'],
    });
  });

  it('rejects keywords the grammar would silently ignore, naming where they are', () => {
    expect(() =>
      normalizeJsonSchema({ type: 'object', properties: { a: { type: 'string', pattern: 'x' } } }),
    ).toThrow(/#\/properties\/a: keyword "pattern" is not supported/);
    expect(() => normalizeJsonSchema({ type: 'integer', minimum: 0 })).toThrow(/minimum/);
    expect(() => normalizeJsonSchema({ type: 'strin' })).toThrow(/unknown type/);
    expect(() => normalizeJsonSchema({ type: 'string', format: 'email' })).toThrow(/format "email"/);
  });

  it('reports the problem as bad_request', () => {
    try {
      normalizeJsonSchema({ allOf: [] });
      throw new Error('no throw');
    } catch (e) {
      expect(e).toMatchObject({ code: 'bad_request' });
    }
  });
});
