import { CorralError } from '@corral/common';
import { ChatBody, EmbedBody, GenerateBody } from './requests';
import { parseBody } from './validate';

function refusal(
  schema: Parameters<typeof parseBody>[0],
  body: unknown,
): { message: string; param?: string } {
  try {
    parseBody(schema, body);
  } catch (e) {
    expect(e).toBeInstanceOf(CorralError);
    return { message: (e as CorralError).message, param: (e as CorralError).param };
  }
  throw new Error('accepted');
}

const deep = (n: number): Record<string, unknown> => {
  let s: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < n; i++) s = { type: 'object', properties: { a: s } };
  return s;
};

describe('Ollama body validation', () => {
  it('reports a wrong type as a wrong type, not as missing', () => {
    expect(refusal(GenerateBody, { model: 'm', prompt: 123 })).toEqual({
      message: 'prompt must be a string',
      param: 'prompt',
    });
    expect(refusal(GenerateBody, { model: 'm', stream: 'yes' }).message).toBe('stream must be a boolean');
    expect(refusal(GenerateBody, { model: 'm', context: 'x' }).message).toBe('context must be an array');
    expect(refusal(GenerateBody, { model: 5 }).message).toBe('model must be a string');
    expect(refusal(GenerateBody, { model: 'm', format: 5 }).message).toBe(
      'format must be "json" or a JSON schema object',
    );
  });

  it('reports a missing field as required', () => {
    expect(refusal(GenerateBody, { prompt: 'x' })).toEqual({ message: 'model is required', param: 'model' });
    expect(refusal(ChatBody, { model: 'm', messages: [{ content: 'x' }] }).message).toBe(
      'messages[0].role is required',
    );
  });

  it('names nested fields as the client wrote them', () => {
    expect(refusal(ChatBody, { model: 'm', messages: [{ role: 'bot', content: 'x' }] }).message).toBe(
      "messages[0].role must be one of 'system', 'user', 'assistant', 'tool'",
    );
    expect(refusal(ChatBody, { model: 'm', messages: [{ role: 'user', content: 1 }] }).param).toBe(
      'messages[0].content',
    );
  });

  it('bounds schemas, the legacy context, images, messages and embedding inputs', () => {
    expect(refusal(ChatBody, { model: 'm', format: deep(100) }).message).toBe(
      'format is nested more than 64 levels deep',
    );
    expect(
      refusal(ChatBody, { model: 'm', tools: [{ function: { name: 'f', parameters: deep(100) } }] }).message,
    ).toBe('tools[0].function.parameters is nested more than 64 levels deep');
    expect(refusal(GenerateBody, { model: 'm', context: Array(300_000).fill(1) }).message).toBe(
      'context must have at most 262144 items',
    );
    expect(refusal(GenerateBody, { model: 'm', context: [-1] }).message).toBe(
      'context[0] must be at least 0',
    );
    expect(refusal(GenerateBody, { model: 'm', images: Array(17).fill('x') }).message).toBe(
      'images must have at most 16 items',
    );
    expect(refusal(ChatBody, { model: 'm', messages: Array(5000).fill({ role: 'user' }) }).message).toBe(
      'messages must have at most 4096 items',
    );
    expect(refusal(EmbedBody, { model: 'm', input: Array(100_000).fill('x') }).message).toBe(
      'input must have at most 2048 items',
    );
    expect(refusal(EmbedBody, { model: 'm', input: 'x'.repeat(8_000_001) }).message).toMatch(
      /^input must be at most 8000000 characters in all/,
    );
    expect(refusal(EmbedBody, { model: 'm', input: 5 }).message).toBe(
      'input must be a string or an array of strings',
    );
    expect(refusal(EmbedBody, { model: 'm' }).message).toBe('input is required');
  });
});
