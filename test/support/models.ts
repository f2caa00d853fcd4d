/**
 * Tiny GGUF models the tests build for themselves with the project's GGUF writer, so the suite runs
 * on any machine; and the real small models in ../shared/models when they are there.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildScriptedModel, buildTinyLlama } from '@corral/registry';

export const SCRIPT = ['Hello', '▁from', '▁Corral', '!'];
export const SCRIPT_TEXT = 'Hello from Corral!';
export const TOOL_SCRIPT = ['{"name":', '▁"get_weather",', '▁"arguments":', '▁{"city":', '▁"Paris"}}'];

export interface TinyModels {
  dir: string;
  /** Always answers exactly SCRIPT_TEXT. */
  scripted: string;
  /** Always answers a get_weather tool call for Paris. */
  toolCaller: string;
  /** Random weights; good for embeddings, grammar and load tests. */
  random: string;
  /**
   * Random weights trained for 65,536 tokens: with OLLAMA_CONTEXT_LENGTH=65536, a stream asked for
   * more tokens than that runs for tens of seconds, so it holds its sequence for as long as a
   * queueing test needs (the 2,048-token `random` fills its context in a second or two).
   */
  long: string;
}

/**
 * Ollama `options` for a stream that must hold its sequence until the test lets go: greedy, because
 * sampled, the random-weights models draw their end-of-text token within a few hundred tokens now
 * and then (measured: after 350 to 3,300 tokens) and the stream ends on its own; greedy, they run
 * until their context is full (`random`: 2,047 tokens, `long`: tens of thousands).
 */
export const HOLDING_OPTIONS = { num_predict: 1_000_000, temperature: 0 } as const;

export async function buildTinyModels(): Promise<TinyModels> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-models-'));
  const scripted = join(dir, 'scripted.gguf');
  const toolCaller = join(dir, 'tool-caller.gguf');
  const random = join(dir, 'random.gguf');
  const long = join(dir, 'long.gguf');
  await buildScriptedModel(scripted, { script: SCRIPT, name: 'corral-scripted' });
  await buildScriptedModel(toolCaller, { script: TOOL_SCRIPT, name: 'corral-tool-caller' });
  await buildTinyLlama(random, { name: 'corral-random' });
  await buildTinyLlama(long, { name: 'corral-long', contextLength: 65_536 });
  return { dir, scripted, toolCaller, random, long };
}

export const SHARED_MODELS = resolve(__dirname, '../../../shared/models');

/** Path of a real model from ../shared/models, or undefined (the caller says it skips). */
export function sharedModel(file: string): string | undefined {
  const p = join(SHARED_MODELS, file);
  return existsSync(p) ? p : undefined;
}
