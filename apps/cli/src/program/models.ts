/** Models and running them: create, pull, push, show, run, stop, list, ps, cp, rm. */
import type { Command } from 'commander';
import type { RunFlags } from '../commands/run';
import type { ShowFlags } from '../commands/show';
import { Progress } from '../progress';
import { CLIENT_ENV, act, client, term, verbs } from './shared';

export function registerModels(program: Command): void {
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
    .command('pull')
    .argument('<model>', 'HOST[:PORT]/namespace/model[:tag], from a registry in CORRAL_REGISTRY_ALLOW')
    .description('Pull a model from another Corral node (or any allow-listed registry)')
    .option('--insecure', 'Use an insecure registry (only hosts allow-listed as http://)')
    .addHelpText('after', CLIENT_ENV)
    .action(
      act((model: string, flags: { insecure?: boolean }) =>
        verbs.pull().pullCommand(client(), model, flags, new Progress(process.stderr)),
      ),
    );

  program
    .command('push')
    .argument(
      '<model>',
      'HOST[:PORT]/namespace/model[:tag]: a local model named for its target (corral cp first)',
    )
    .description('Push a model to another Corral node that accepts pushes')
    .option('--insecure', 'Use an insecure registry (only hosts allow-listed as http://)')
    .addHelpText('after', CLIENT_ENV)
    .action(
      act((model: string, flags: { insecure?: boolean }) =>
        verbs.push().pushCommand(client(), model, flags, new Progress(process.stderr)),
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
}
