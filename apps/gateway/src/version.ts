// The version Ollama clients see. Some clients gate features on Ollama's version number, so Corral
// reports the Ollama API level it implements; its own version is in the x-corral-version header.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const OLLAMA_API_VERSION = '0.12.0';

function readOwnVersion(): string {
  for (const up of ['../../..', '../../../..']) {
    try {
      const pkg = JSON.parse(readFileSync(join(__dirname, up, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'corral' && pkg.version) return pkg.version;
    } catch {
      // try the next candidate
    }
  }
  return '0.0.0';
}

export const CORRAL_VERSION = readOwnVersion();
export const VERSION = OLLAMA_API_VERSION;
