/**
 * `corral serve`: the gateway in this process. Configuration is validated before anything
 * starts, so a bad value is one readable error, not a stack from deep inside a module.
 */
import { loadConfig, type CorralConfig } from '@corral/config';

type StartServer = (config: CorralConfig) => Promise<{ url: string; close(): Promise<void> }>;

/** A configuration problem: printed as it is, and the process exits 1. */
export class ConfigError extends Error {}

export interface ServeIO {
  log(line: string): void;
  /** Resolves when the process should shut down (SIGINT/SIGTERM). */
  shutdownSignal?: () => Promise<NodeJS.Signals>;
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

export async function serveCommand(io: ServeIO, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: CorralConfig;
  try {
    config = loadConfig(env);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  // Loaded on demand: the other verbs are HTTP clients and should not pay for NestJS at startup.
  // require, not import(): the build is CommonJS, and import() of a CommonJS file would need the
  // ESM resolver (full file names) at run time.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startServer } = require('../../../gateway/src/server') as { startServer: StartServer };
  const server = await startServer(config);
  io.log(`corral listening on ${server.url}`);
  const signal = await (io.shutdownSignal ?? waitForSignal)();
  io.log(`received ${signal}, shutting down`);
  // A second signal while draining means "now".
  const force = () => process.exit(130);
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  try {
    await server.close();
  } finally {
    process.off('SIGINT', force);
    process.off('SIGTERM', force);
  }
}
