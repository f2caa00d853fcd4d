import { CorralError } from '@corral/common';
import { ChatRequestSchema } from './dto/chat.dto';
import { CompletionRequestSchema } from './dto/completion.dto';
import { EmbeddingRequestSchema } from './dto/embedding.dto';
import { fieldPath, parseBody } from './validation';

function failure(fn: () => unknown): CorralError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CorralError) return e;
    throw e;
  }
  throw new Error('expected a CorralError');
}

const user = { role: 'user', content: 'hi' };

describe('parseBody', () => {
  it.each([
    [{ messages: [user] }, "'model' is required", 'model'],
    [{ model: 'tiny' }, "'messages' is required", 'messages'],
    [{ model: 'tiny', messages: 'hi' }, "'messages' must be an array", 'messages'],
    [{ model: 'tiny', messages: [] }, "'messages' must have at least 1 item", 'messages'],
    [
      { model: 'tiny', messages: [{ role: 'robot', content: 'x' }] },
      "'messages[0].role' must be one of 'system', 'developer', 'user', 'assistant', 'tool', 'function'",
      'messages[0].role',
    ],
    [
      { model: 'tiny', messages: [user, { role: 'tool', content: 'x' }] },
      "'messages[1].tool_call_id' is required",
      'messages[1].tool_call_id',
    ],
    [{ model: 'tiny', messages: [user], temperature: 3 }, "'temperature' must be at most 2", 'temperature'],
    [{ model: 'tiny', messages: [user], n: 1.5 }, "'n' must be an integer", 'n'],
    [
      { model: 'tiny', messages: [user], stop: ['a', 'b', 'c', 'd', 'e'] },
      "'stop' must be a string or an array of at most 4 strings",
      'stop',
    ],
    [{ model: 'tiny', messages: [user], max_tokens: 0 }, "'max_tokens' must be at least 1", 'max_tokens'],
    [
      { model: 'tiny', messages: [user], tool_choice: 'sometimes' },
      expect.stringMatching(/^'tool_choice' must be 'none', 'auto', 'required' or/),
      'tool_choice',
    ],
    [
      { model: 'tiny', messages: [user], response_format: { type: 'xml' } },
      "'response_format.type' type must be one of 'text', 'json_object', 'json_schema'",
      'response_format.type',
    ],
    [
      { model: 'tiny', messages: [user], response_format: { type: 'json_schema', json_schema: {} } },
      "'response_format.json_schema.name' is required",
      'response_format.json_schema.name',
    ],
  ])('%j → %s', (body, message, param) => {
    const e = failure(() => parseBody(ChatRequestSchema, body));
    expect(e.status).toBe(400);
    expect(e.message).toEqual(message);
    expect(e.param).toBe(param);
  });

  it('accepts explicit nulls for unset parameters, as SDKs send them', () => {
    const body = parseBody(ChatRequestSchema, {
      model: 'tiny',
      messages: [user],
      stop: null,
      temperature: null,
      tools: null,
      n: null,
    });
    expect(body.stop).toBeNull();
    expect(body.messages).toEqual([user]);
  });

  it('ignores fields it does not know (clients send vendor extras)', () => {
    expect(
      parseBody(ChatRequestSchema, { model: 'tiny', messages: [user], metadata: { a: 1 } }),
    ).not.toHaveProperty('metadata');
  });

  it('refuses a body that is not an object', () => {
    expect(failure(() => parseBody(ChatRequestSchema, [1])).message).toBe(
      'request body must be a JSON object',
    );
    expect(failure(() => parseBody(EmbeddingRequestSchema, undefined)).status).toBe(400);
  });

  it('names fields of the other routes too', () => {
    expect(failure(() => parseBody(CompletionRequestSchema, { model: 'tiny' })).message).toBe(
      "'prompt' is required",
    );
    expect(
      failure(() => parseBody(EmbeddingRequestSchema, { model: 'tiny', input: 'x', encoding_format: 'hex' }))
        .message,
    ).toBe("'encoding_format' must be one of 'float', 'base64'");
  });

  it('writes nested paths the way OpenAI documents them', () => {
    expect(fieldPath(['messages', 0, 'content', 2, 'text'])).toBe('messages[0].content[2].text');
  });
});
