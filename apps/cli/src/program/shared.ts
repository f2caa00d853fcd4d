/**
 * What every command group shares: the lazily loaded verb modules, the one way a failure ends, and
 * the help texts. Nothing here may import commands/* eagerly.
 */
import { CorralClient } from '../client';

// Each verb's module is loaded when the verb runs: `corral list` should not pay for the Modelfile
// parser, the REPL, or (for `serve`) the whole gateway.
/* eslint-disable @typescript-eslint/no-require-imports */
export const verbs = {
  audit: () => require('../commands/audit') as typeof import('../commands/audit'),
  create: () => require('../commands/create') as typeof import('../commands/create'),
  models: () => require('../commands/models') as typeof import('../commands/models'),
  run: () => require('../commands/run') as typeof import('../commands/run'),
  serve: () => require('../commands/serve') as typeof import('../commands/serve'),
  show: () => require('../commands/show') as typeof import('../commands/show'),
  keys: () => require('../commands/keys') as typeof import('../commands/keys'),
  teams: () => require('../commands/teams') as typeof import('../commands/teams'),
  users: () => require('../commands/users') as typeof import('../commands/users'),
  quota: () => require('../commands/quota') as typeof import('../commands/quota'),
  migrate: () => require('../commands/migrate') as typeof import('../commands/migrate'),
  pull: () => require('../commands/pull') as typeof import('../commands/pull'),
  push: () => require('../commands/push') as typeof import('../commands/push'),
  worker: () => require('../commands/worker') as typeof import('../commands/worker'),
};
/* eslint-enable @typescript-eslint/no-require-imports */

export const CLIENT_ENV = `
Environment Variables:
      CORRAL_HOST                Address of the gateway (falls back to OLLAMA_HOST; default 127.0.0.1:11434)
      CORRAL_API_KEY             API key to send (default: the contents of $CORRAL_HOME/admin.key, if readable)
`;

export const SERVE_ENV = `
Environment Variables:
      CORRAL_HOST                Address to listen on (falls back to OLLAMA_HOST; default 127.0.0.1:11434)
      CORRAL_HOME                Data directory (default ~/.corral)
      OLLAMA_MODELS              Models directory (default $CORRAL_HOME/models)
      OLLAMA_KEEP_ALIVE          How long an idle model stays loaded (default 5m)
      OLLAMA_NUM_PARALLEL        Parallel requests per model (default 4)
      OLLAMA_MAX_LOADED_MODELS   Most models loaded at once per worker (default 3)
      DATABASE_URL, REDIS_URL    Cluster mode (PostgreSQL and Redis)
      CORRAL_CLUSTER=1           Schedule on \`corral worker\` processes found in Redis (docs/cluster.md)
`;

export function fail(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`Error: ${message}\n`);
  if (process.env.CORRAL_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  process.exit(1);
}

/** Wraps an action so any failure is reported the one way. */
export function act<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      fail(err);
    }
  };
}

export const client = () => CorralClient.fromEnvironment();
export const term = () => ({ input: process.stdin, out: process.stdout, err: process.stderr });
export const log = (line: string) => process.stdout.write(line + '\n');
