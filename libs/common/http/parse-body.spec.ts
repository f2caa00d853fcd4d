import { z } from 'zod';
import { CorralError } from '../errors';
import { parseBody } from './parse-body';

const Body = z.object({ model: z.string(), stream: z.boolean().optional() }).strict();

function refusal(body: unknown, dialect: 'ollama' | 'openai'): { message: string; param?: string } {
  try {
    parseBody(Body, body, dialect);
  } catch (e) {
    expect(e).toBeInstanceOf(CorralError);
    return { message: (e as CorralError).message, param: (e as CorralError).param };
  }
  throw new Error('accepted');
}

describe('parseBody, one parser for both dialects', () => {
  it('reports a wrong type as a wrong type, in each dialect’s wording', () => {
    expect(refusal({ model: 'm', stream: 'yes' }, 'ollama')).toEqual({
      message: 'stream must be a boolean',
      param: 'stream',
    });
    expect(refusal({ model: 'm', stream: 'yes' }, 'openai')).toEqual({
      message: "'stream' must be a boolean",
      param: 'stream',
    });
  });

  it('reports a missing field as required, and unknown fields by name', () => {
    expect(refusal({}, 'ollama').message).toBe('model is required');
    expect(refusal({}, 'openai').message).toBe("'model' is required");
    expect(refusal({ model: 'm', colour: 1 }, 'ollama').message).toBe("unknown field 'colour'");
    expect(refusal({ model: 'm', colour: 1 }, 'openai').message).toBe("unrecognized field 'colour'");
  });

  it('refuses a body that is not an object', () => {
    expect(refusal(undefined, 'ollama').message).toBe('missing request body');
    expect(refusal(undefined, 'openai').message).toBe('request body must be a JSON object');
    expect(refusal([1], 'ollama').message).toBe('request body must be a JSON object');
  });
});
