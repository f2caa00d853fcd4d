/**
 * The `corral` command: commander wiring only. Every verb lives in commands/; every failure ends
 * here as one "Error: ..." line on stderr and exit status 1, as `ollama` does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { CorralClient } from './client';
import type { RunFlags } from './commands/run';
import type { ShowFlags } from './commands/show';
import { Progress } from './progress';

// Each verb's module is loaded when the verb runs: `corral list` should not pay for the Modelfile
// parser, the REPL, or (for `serve`) the whole gateway.
/* eslint-disable @typescript-eslint/no-require-imports */
const verbs = {
  create: () => require('./commands/create') as typeof import('./commands/create'),
  models: () => require('./commands/models') as typeof import('./commands/models'),
  run: () => require('./commands/run') as typeof import('./commands/run'),
  serve: () => require('./commands/serve') as typeof import('./commands/serve'),
  show: () => require('./commands/show') as typeof import('./commands/show'),
};
/* eslint-enable @typescript-eslint/no-require-imports */

const CLIENT_ENV = `
Environment Variables:
      CORRAL_HOST                Address of the gateway (falls back to OLLAMA_HOST; default 127.0.0.1:11434)
      CORRAL_API_KEY             API key to send (default: the contents of $CORRAL_HOME/admin.key, if readable)
`;

const SERVE_ENV = `
Environment Variables:
      CORRAL_HOST                Address to listen on (falls back to OLLAMA_HOST; default 127.0.0.1:11434)
      CORRAL_HOME                Data directory (default ~/.corral)
      OLLAMA_MODELS              Models directory (default $CORRAL_HOME/models)
      OLLAMA_KEEP_ALIVE          How long an idle model stays loaded (default 5m)
      OLLAMA_NUM_PARALLEL        Parallel requests per model (default 4)
      OLLAMA_MAX_LOADED_MODELS   Most models loaded at once per worker (default 3)
      DATABASE_URL, REDIS_URL    Cluster mode (PostgreSQL and Redis)
`;

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

function fail(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`Error: ${message}\n`);
  if (process.env.CORRAL_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  process.exit(1);
}

/** Wraps an action so any failure is reported the one way. */
function act<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      fail(err);
    }
  };
}

const client = () => CorralClient.fromEnvironment();
const term = () => ({ input: process.stdin, out: process.stdout, err: process.stderr });

export function buildProgram(): Command {
  const program = new Command('corral')
    .description('On-prem AI gateway: Ollama- and OpenAI-compatible API over a pool of llama.cpp workers')
    .version(version(), '-v, --version', 'Show version information')
    .enablePositionalOptions()
    .showHelpAfterError();

  program
    .command('serve')
    .alias('start')
    .description('Start corral')
    .addHelpText('after', SERVE_ENV)
    .action(act(() => verbs.serve().serveCommand({ log: (l) => process.stdout.write(l + '\n') })));

  program
    .command('create')
    .argument('<model>')
    .description('Create a model from a Modelfile')
    .option('-f, --file <path>', 'Name of the Modelfile (default "Modelfile")')
    .option('-q, --quantize <level>', 'Quantize model to this level (e.g. q4_K_M)')
    .addHelpText('after', CLIENT_ENV)
    .action(
      act((model: string, opts: { file?: string; quantize?: string }) =>
        verbs.create().createCommand(client(), model, opts, new Progress(process.stderr)),
      ),
    );

  program
    .command('show')
    .argument('<model>')
    .description('Show information for a model')
    .option('--license', 'Show license of a model')
    .option('--modelfile', 'Show Modelfile of a model')
    .option('--parameters', 'Show parameters of a model')
    .option('--template', 'Show template of a model')
    .option('--system', 'Show system message of a model')
    .option('-v, --verbose', 'Show detailed model information')
    .addHelpText('after', CLIENT_ENV)
    .action(
      act((model: string, flags: ShowFlags) =>
        verbs.show().showCommand(client(), model, flags, process.stdout),
      ),
    );

  program
    .command('run')
    .argument('<model>')
    .argument('[prompt...]')
    .description('Run a model')
    .option('--format <format>', 'Response format ("json" or a JSON schema)')
    .option('--keepalive <duration>', 'Duration to keep a model loaded (e.g. 5m)')
    .option('--verbose', 'Show timings for response')
    .option('--nowordwrap', "Don't wrap words to the next line automatically")
    .option('--think', 'Enable thinking (for models that support it)')
    .option('--no-think', 'Disable thinking')
    .option('--hidethinking', 'Hide thinking output (if provided)')
    .addHelpText('after', CLIENT_ENV)
    .action(
      act((model: string, prompt: string[], flags: RunFlags) =>
        verbs.run().runCommand(client(), model, prompt, flags, term()),
      ),
    );

  program
    .command('stop')
    .argument('<model>')
    .description('Stop a running model')
    .addHelpText('after', CLIENT_ENV)
    .action(act((model: string) => verbs.models().stopCommand(client(), model)));

  program
    .command('list')
    .alias('ls')
    .argument('[prefix]', 'Only models whose name starts with this')
    .description('List models')
    .addHelpText('after', CLIENT_ENV)
    .action(
      act((prefix: string | undefined) => verbs.models().listCommand(client(), prefix, process.stdout)),
    );

  program
    .command('ps')
    .argument('[prefix]', 'Only models whose name starts with this')
    .description('List running models')
    .addHelpText('after', CLIENT_ENV)
    .action(act((prefix: string | undefined) => verbs.models().psCommand(client(), prefix, process.stdout)));

  program
    .command('cp')
    .argument('<source>')
    .argument('<destination>')
    .description('Copy a model')
    .addHelpText('after', CLIENT_ENV)
    .action(
      act((src: string, dst: string) => verbs.models().copyCommand(client(), src, dst, process.stdout)),
    );

  program
    .command('rm')
    .argument('<model...>')
    .description('Remove a model')
    .addHelpText('after', CLIENT_ENV)
    .action(act((models: string[]) => verbs.models().removeCommand(client(), models, process.stdout)));

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
