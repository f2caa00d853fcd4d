/** Running Corral: `serve`, `worker`, `migrate`. */
import type { Command } from 'commander';
import { SERVE_ENV, act, log, verbs } from './shared';

export function registerOps(program: Command): void {
  program
    .command('serve')
    .alias('start')
    .description('Start corral')
    .addHelpText('after', SERVE_ENV)
    .action(act(() => verbs.serve().serveCommand({ log })));

  program
    .command('worker')
    .description('Join a cluster as an inference worker (docs/cluster.md)')
    .option('--redis <url>', 'Redis of the cluster (default: REDIS_URL)')
    .option(
      '--models <dir>',
      'Models directory, shared with the gateways or its own (default: OLLAMA_MODELS)',
    )
    .option(
      '--gateway <url>',
      'Fetch blobs missing from --models from this gateway over HTTP (default: CORRAL_WORKER_GATEWAY; key: CORRAL_WORKER_KEY)',
    )
    .option(
      '--memory <size>',
      'Memory to fill with models, e.g. 20GiB (default: CORRAL_WORKER_MEMORY, else free memory)',
    )
    .option('--id <id>', 'Worker id (default: CORRAL_WORKER_ID, else <hostname>-<pid>)')
    .option('--prefix <prefix>', 'Cluster key prefix (default: CORRAL_CLUSTER_PREFIX, else corral)')
    .action(
      act((flags: import('../commands/worker').WorkerFlags) => verbs.worker().workerCommand(flags, { log })),
    );

  program
    .command('migrate')
    .argument('[action]', 'up, down or status', 'status')
    .description(
      'Apply (up), revert the last (down) or list (status) database migrations; stop the server first with the embedded database',
    )
    .action(
      act(async (action: string) => {
        if (action !== 'up' && action !== 'down' && action !== 'status') {
          throw new Error(`unknown migrate action '${action}': use up, down or status`);
        }
        await verbs.migrate().migrateCommand(action, log);
      }),
    );
}
