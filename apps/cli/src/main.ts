/**
 * The `corral` command: commander wiring only. The command groups are defined in program/, every
 * verb lives in commands/ and is loaded only when it runs (program/shared.ts); every failure ends
 * as one "Error: ..." line on stderr and exit status 1, as `ollama` does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { registerAdmin } from './program/admin';
import { registerAudit } from './program/audit';
import { registerKb } from './program/kb';
import { registerModels } from './program/models';
import { registerOps } from './program/ops';
import { registerQuota } from './program/quota';
import { fail } from './program/shared';

/** The package version, found by walking up (the path differs between src/ and dist/). */
function version(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'corral') return pkg.version ?? '0.0.0';
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}

export function buildProgram(): Command {
  const program = new Command('corral')
    .description('On-prem AI gateway: Ollama- and OpenAI-compatible API over a pool of llama.cpp workers')
    .version(version(), '-v, --version', 'Show version information')
    .enablePositionalOptions()
    .showHelpAfterError();
  // The order here is the order of `corral --help`.
  registerOps(program);
  registerModels(program);
  registerAdmin(program);
  registerQuota(program);
  registerKb(program);
  registerAudit(program);
  return program;
}

// Run when started as the program (node dist/.../main.js) or through bin/corral.js, not when a test
// imports buildProgram.
if (require.main === module || /[\\/]bin[\\/]corral(\.js)?$/.test(require.main?.filename ?? '')) {
  buildProgram()
    .parseAsync(process.argv)
    .then(
      // Interactive sessions and streams may leave handles (stdin) open; the verb is done.
      () => process.exit(process.exitCode ?? 0),
      fail,
    );
}
