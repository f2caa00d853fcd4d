import { CorralError } from '@corral/common';
import { ChatRequestSchema } from './dto/chat.dto';
import { EmbeddingRequestSchema } from './dto/embedding.dto';
import { parseBody } from './validation';

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
const chat = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

describe('OpenAI request bounds', () => {
  it('reports a wrong type as a wrong type, naming the field', () => {
    expect(refusal(ChatRequestSchema, { ...chat, stream: 'yes' })).toEqual({
      message: "'stream' must be a boolean",
      param: 'stream',
    });
    expect(refusal(ChatRequestSchema, { model: 'm' }).message).toBe("'messages' is required");
  });

  it('bounds JSON schemas in response_format and tool parameters', () => {
    expect(
      refusal(ChatRequestSchema, {
        ...chat,
        response_format: { type: 'json_schema', json_schema: { name: 'x', schema: deep(20_000) } },
      }),
    ).toEqual({
      message: "'response_format.json_schema.schema' is nested more than 64 levels deep",
      param: 'response_format.json_schema.schema',
    });
    expect(
      refusal(ChatRequestSchema, {
        ...chat,
        tools: [{ type: 'function', function: { name: 'f', parameters: deep(5_000) } }],
      }).param,
    ).toBe('tools[0].function.parameters');
  });

  it('bounds max_tokens, stop strings, logit_bias and messages', () => {
    expect(refusal(ChatRequestSchema, { ...chat, max_tokens: 1e12 }).message).toBe(
      "'max_tokens' must be at most 2147483647",
    );
    expect(refusal(ChatRequestSchema, { ...chat, stop: 'x'.repeat(2000) }).param).toBe('stop');
    const bias = Object.fromEntries(Array.from({ length: 301 }, (_, i) => [String(i), 1]));
    expect(refusal(ChatRequestSchema, { ...chat, logit_bias: bias }).message).toBe(
      "'logit_bias' must have at most 300 entries",
    );
    expect(
      refusal(ChatRequestSchema, { model: 'm', messages: Array(5000).fill({ role: 'user', content: 'x' }) })
        .message,
    ).toBe("'messages' must have at most 4096 items");
  });

  it('caps embedding inputs at 2048 and their total size', () => {
    expect(refusal(EmbeddingRequestSchema, { model: 'm', input: Array(100_000).fill('x') })).toEqual({
      message: "'input' must have at most 2048 items",
      param: 'input',
    });
    expect(refusal(EmbeddingRequestSchema, { model: 'm', input: ['x'.repeat(8_000_001)] }).message).toMatch(
      /characters in all/,
    );
  });
});
