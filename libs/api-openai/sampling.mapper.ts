/**
 * OpenAI sampling parameters → Ollama option names. RunService merges these over the Modelfile's
 * PARAMETERs exactly as it does for an Ollama request's `options`, so a model behaves the same
 * whichever dialect calls it; fields the client left unset keep the Modelfile's values.
 */
import { CorralError } from '@corral/common';
import type { OllamaOptions } from '@corral/dispatch';
import type { SamplingRequest } from './dto/common.dto';

/** Rejects parameters Corral cannot honour rather than silently returning something else. */
export function rejectUnsupported(req: SamplingRequest): void {
  if (req.n !== undefined && req.n !== null && req.n !== 1) {
    throw new CorralError('unsupported', `'n' must be 1: only one choice per request is supported`, 'n');
  }
  if (req.logit_bias && Object.keys(req.logit_bias).length > 0) {
    throw new CorralError('unsupported', `'logit_bias' is not supported`, 'logit_bias');
  }
}

export function toOllamaOptions(
  req: SamplingRequest & { max_completion_tokens?: number | null },
): OllamaOptions {
  const options: OllamaOptions = {};
  const set = (name: string, value: unknown) => {
    if (value !== undefined && value !== null) options[name] = value;
  };
  set('temperature', req.temperature);
  set('top_p', req.top_p);
  set('seed', req.seed);
  set('frequency_penalty', req.frequency_penalty);
  set('presence_penalty', req.presence_penalty);
  // max_completion_tokens replaced max_tokens in OpenAI's API; new SDKs send it, old ones the other.
  set('num_predict', req.max_completion_tokens ?? req.max_tokens);
  if (typeof req.stop === 'string') options.stop = [req.stop];
  else if (Array.isArray(req.stop) && req.stop.length > 0) options.stop = req.stop;
  return options;
}
