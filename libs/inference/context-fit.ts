import type { Token } from 'node-llama-cpp';

/**
 * Makes a prompt fit a sequence of `limit` tokens the way Ollama does: keep the first `numKeep` tokens
 * (the system prompt / BOS), drop the oldest tokens after them, keep the most recent ones. Only a prompt
 * that leaves no room to generate is cut; it is then cut to leave room for the answer: the requested
 * token budget, or a quarter of the context when unbounded, never more than half.
 */
export function fitPromptToContext(
  tokens: readonly Token[],
  limit: number,
  numKeep: number,
  maxNewTokens: number,
): { tokens: Token[]; truncated: number } {
  if (tokens.length < limit) return { tokens: [...tokens], truncated: 0 };
  const reserve = Math.max(
    1,
    Math.min(Number.isFinite(maxNewTokens) ? maxNewTokens : Math.floor(limit / 4), Math.floor(limit / 2)),
  );
  const room = limit - reserve;
  const keep = Math.min(numKeep, Math.floor(room / 2));
  const tail = room - keep;
  return {
    tokens: [...tokens.slice(0, keep), ...tokens.slice(tokens.length - tail)],
    truncated: tokens.length - room,
  };
}
