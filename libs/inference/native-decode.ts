import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Corral's native decode loop (native/decode-loop.cc, built by scripts/build-native.mjs into
 * build/native/corral-decode.node): generates a context's sequences on a thread of its own, decode →
 * sample → decode with no JavaScript in between, handing each token to JavaScript while the next decode
 * runs. DecodeLoop uses it while every sequence of the context is past its prompt; see decode-loop.ts.
 */
export interface NativeDecodeAddon {
  /** A bound context, or why this node-llama-cpp build cannot be bound (a string). */
  bind(
    addonContext: object,
    addonModel: object,
    addonSampler: object,
    contextSize: number,
    sequences: number,
  ): NativeBinding | string;
  /**
   * Generates every row on from its `token` (sampled, not yet decoded, to go at `position`): one batch
   * with each row's pending token per step, as llama-server's loop does. A row leaves once a token ends
   * its stream (end of generation, one of its `stopTokens`, its `maxTokens`-th, or one more would pass
   * its `positionLimit`); that token is handed over, never decoded. The run ends when no row is left, or
   * after the step during which `interrupt` was called or `budgetMs` ran out. Every sampled token goes
   * to `onToken` with its row's index, whether the row has left the run (from then on the run does
   * not touch its sequence or sampler) and the run's decode call it came from (1, 2, ...; every token
   * stands for one row decoded). Resolves with [decode calls, rows decoded].
   */
  run(
    binding: NativeBinding,
    rows: readonly NativeRow[],
    budgetMs: number,
    onToken: (row: number, token: number, rowDone: boolean, step: number) => void,
  ): Promise<[number, number]>;
  /** The running loop stops after the step it is on. */
  interrupt(binding: NativeBinding): void;
}

/** One sequence of a native run. */
export interface NativeRow {
  /** node-llama-cpp's AddonSampler for the sequence, configured. */
  sampler: object;
  sequenceId: number;
  position: number;
  token: number;
  maxTokens: number;
  positionLimit: number;
  stopTokens: Int32Array;
}

/** An opaque handle: one node-llama-cpp context bound to the native loop. */
export interface NativeBinding {
  readonly __nativeBinding: unique symbol;
}

let loaded: NativeDecodeAddon | null | undefined;
let loadError: string | undefined;

/**
 * The addon, or null where it was not built (no compiler at install time; `loadError` says why) or
 * `CORRAL_NATIVE_DECODE_ADDON` points nowhere. Loaded once per process.
 */
export function nativeDecodeAddon(): NativeDecodeAddon | null {
  if (loaded !== undefined) return loaded;
  const path = process.env.CORRAL_NATIVE_DECODE_ADDON || findBuilt();
  if (!path) {
    loadError = 'build/native/corral-decode.node was not built (scripts/build-native.mjs)';
    loaded = null;
    return null;
  }
  try {
    const module = { exports: {} as Record<string, unknown> };
    process.dlopen(module, path);
    const addon = module.exports;
    loaded =
      typeof addon.bind === 'function' &&
      typeof addon.run === 'function' &&
      typeof addon.interrupt === 'function'
        ? (addon as unknown as NativeDecodeAddon)
        : null;
    if (!loaded) loadError = `${path} is not Corral's native decode addon`;
  } catch (e) {
    loadError = `cannot load ${path}: ${e instanceof Error ? e.message : String(e)}`;
    loaded = null;
  }
  return loaded;
}

/** Why `nativeDecodeAddon()` returned null. */
export function nativeDecodeLoadError(): string | undefined {
  return loadError;
}

/** build/native/corral-decode.node in the nearest folder above this file that has one. */
function findBuilt(): string | undefined {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'build/native/corral-decode.node');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}
