/**
 * node-llama-cpp is ESM-only and this codebase compiles to CommonJS, so the package is loaded with a
 * dynamic import (swc keeps it as a real `import()`; see .swcrc `ignoreDynamic`). Everything else in
 * this feature imports its types with `import type` and receives runtime classes from here.
 */
export type NodeLlamaCpp = typeof import('node-llama-cpp');

let modulePromise: Promise<NodeLlamaCpp> | undefined;

export function loadNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  modulePromise ??= import('node-llama-cpp');
  return modulePromise;
}
