/**
 * A test server with the tiny models built and imported: the setup of the e2e suites that drive one
 * plain `corral serve` through a client (the ollama and openai SDKs, the CLI).
 */
import { rmSync } from 'node:fs';
import { importModel } from './http';
import { buildTinyModels, type TinyModels } from './models';
import { startCorral, type CorralProcess } from './server';

/** One model to import: `name` on the server, built from `model`, with more /api/create fields in `extra`. */
export interface TinyImport {
  name: string;
  model: Exclude<keyof TinyModels, 'dir'>;
  extra?: Record<string, unknown>;
}

/** What the client suites import: scripted, tools (the tool caller, bare prompt template) and random. */
export const CLIENT_MODELS: readonly TinyImport[] = [
  { name: 'scripted', model: 'scripted' },
  { name: 'tools', model: 'toolCaller', extra: { template: '{{ .Prompt }}' } },
  { name: 'random', model: 'random' },
];

export interface TinyServer {
  corral: CorralProcess;
  models: TinyModels;
  /** Stops the server and removes the models' directory. */
  stop(): Promise<void>;
}

/** Builds the tiny models, starts a server (with `env`) and imports `imports` into it, in order. */
export async function startWithTinyModels(
  imports: readonly TinyImport[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<TinyServer> {
  const models = await buildTinyModels();
  let corral: CorralProcess | undefined;
  const stop = async () => {
    await corral?.stop();
    rmSync(models.dir, { recursive: true, force: true });
  };
  try {
    corral = await startCorral(env);
    for (const i of imports) await importModel(corral.url, i.name, models[i.model], i.extra);
    return { corral, models, stop };
  } catch (e) {
    // The suite's afterAll has nothing to stop: no server is left behind.
    await stop();
    throw e;
  }
}
