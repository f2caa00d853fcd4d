/**
 * Which API dialect a request speaks decides the shape of its errors: OpenAI's clients parse
 * `{"error": {"message", "type", "param", "code"}}`, Ollama's parse `{"error": "..."}`.
 */
export type Dialect = 'openai' | 'ollama';

export function dialectOf(url: string): Dialect {
  return url.startsWith('/v1/') || url === '/v1' ? 'openai' : 'ollama';
}

const OPENAI_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  405: 'invalid_request_error',
  408: 'invalid_request_error',
  409: 'conflict_error',
  413: 'invalid_request_error',
  414: 'invalid_request_error',
  415: 'invalid_request_error',
  431: 'invalid_request_error',
  429: 'rate_limit_error',
  500: 'api_error',
  503: 'service_unavailable',
};

export function errorBody(
  dialect: Dialect,
  status: number,
  message: string,
  code?: string,
  param?: string,
): unknown {
  if (dialect === 'ollama') return { error: message };
  return {
    error: { message, type: OPENAI_TYPES[status] ?? 'api_error', param: param ?? null, code: code ?? null },
  };
}
