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
  audit: () => require('./commands/audit') as typeof import('./commands/audit'),
  create: () => require('./commands/create') as typeof import('./commands/create'),
  models: () => require('./commands/models') as typeof import('./commands/models'),
  run: () => require('./commands/run') as typeof import('./commands/run'),
  serve: () => require('./commands/serve') as typeof import('./commands/serve'),
  show: () => require('./commands/show') as typeof import('./commands/show'),
  keys: () => require('./commands/keys') as typeof import('./commands/keys'),
  teams: () => require('./commands/teams') as typeof import('./commands/teams'),
  users: () => require('./commands/users') as typeof import('./commands/users'),
  quota: () => require('./commands/quota') as typeof import('./commands/quota'),
  migrate: () => require('./commands/migrate') as typeof import('./commands/migrate'),
  pull: () => require('./commands/pull') as typeof import('./commands/pull'),
  push: () => require('./commands/push') as typeof import('./commands/push'),
  worker: () => require('./commands/worker') as typeof import('./commands/worker'),
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
      CORRAL_CLUSTER=1           Schedule on \`corral worker\` processes found in Redis (docs/cluster.md)
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
      act((flags: import('./commands/worker').WorkerFlags) =>
        verbs.worker().workerCommand(flags, { log: (l) => process.stdout.write(l + '\n') }),
      ),
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
        await verbs.migrate().migrateCommand(action, (l) => process.stdout.write(l + '\n'));
      }),
    );

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

  const keys = program
    .command('keys')
    .description('Manage API keys (admin API)')
    .addHelpText('after', CLIENT_ENV);
  keys
    .command('create')
    .description('Create an API key; prints it once')
    .requiredOption('--team <id>', 'Team the key belongs to')
    .requiredOption('--name <name>', 'Name, unique in the team')
    .requiredOption(
      '--scopes <list>',
      'Comma-separated: inference,embeddings,models:read,models:write,kb:read,kb:write,admin',
    )
    .option('--models <list>', 'Comma-separated model allow-list (default: all models)')
    .option('--expires <when>', 'Expiry: RFC 3339 time or a duration from now (e.g. 720h)')
    .option('--user <id>', 'User the key acts for (default: you)')
    .action(
      act((flags: import('./commands/keys').CreateKeyFlags) =>
        verbs.keys().createKeyCommand(client(), flags, process.stdout),
      ),
    );
  keys
    .command('list')
    .alias('ls')
    .description('List API keys (never their secrets)')
    .option('--team <id>', 'Only this team')
    .option('--all', 'Include revoked keys')
    .action(
      act((flags: { team?: string; all?: boolean }) =>
        verbs.keys().listKeysCommand(client(), flags, process.stdout),
      ),
    );
  keys
    .command('revoke')
    .argument('<id>')
    .description('Revoke an API key (refused everywhere within a second)')
    .action(act((id: string) => verbs.keys().revokeKeyCommand(client(), id, process.stdout)));
  keys
    .command('rotate')
    .argument('<id>')
    .description('Give a key a new secret; prints it once')
    .option('--grace <duration>', 'How long the old secret keeps working (e.g. 10m; default 0)')
    .action(
      act((id: string, flags: { grace?: string }) =>
        verbs.keys().rotateKeyCommand(client(), id, flags, process.stdout),
      ),
    );

  const teams = program
    .command('teams')
    .description('Manage teams and members (admin API)')
    .addHelpText('after', CLIENT_ENV);
  teams
    .command('list')
    .alias('ls')
    .description('List teams')
    .action(act(() => verbs.teams().listTeamsCommand(client(), process.stdout)));
  teams
    .command('create')
    .argument('<name>')
    .option('--owner <user id>', 'First owner')
    .description('Create a team (admin)')
    .action(
      act((name: string, flags: { owner?: string }) =>
        verbs.teams().createTeamCommand(client(), name, flags, process.stdout),
      ),
    );
  teams
    .command('members')
    .argument('<team>')
    .description("List a team's members")
    .action(act((team: string) => verbs.teams().listMembersCommand(client(), team, process.stdout)));
  teams
    .command('add-member')
    .argument('<team>')
    .argument('<user>', 'User id or email')
    .option('--role <role>', 'owner, member or viewer (default member)')
    .description('Add a user to a team')
    .action(
      act((team: string, user: string, flags: { role?: string }) =>
        verbs.teams().addMemberCommand(client(), team, user, flags, process.stdout),
      ),
    );
  teams
    .command('remove-member')
    .argument('<team>')
    .argument('<user>', 'User id')
    .description('Remove a user from a team')
    .action(
      act((team: string, user: string) =>
        verbs.teams().removeMemberCommand(client(), team, user, process.stdout),
      ),
    );

  const users = program
    .command('users')
    .description('Manage users (admin API, admins only)')
    .addHelpText('after', CLIENT_ENV);
  users
    .command('list')
    .alias('ls')
    .description('List users')
    .action(act(() => verbs.users().listUsersCommand(client(), process.stdout)));
  users
    .command('create')
    .argument('<email>')
    .option('--name <name>', 'Display name')
    .option('--role <role>', 'Global role: admin or auditor')
    .option('--password-stdin', 'Read a console password from the first line of stdin')
    .description('Create a user')
    .action(
      act((email: string, flags: import('./commands/users').CreateUserFlags) =>
        verbs.users().createUserCommand(client(), email, flags, process.stdin, process.stdout),
      ),
    );
  users
    .command('set-password')
    .argument('<id>')
    .description("Set a user's console password, read from the first line of stdin")
    .action(
      act((id: string) =>
        verbs.users().updateUserCommand(client(), id, { passwordFrom: process.stdin }, process.stdout),
      ),
    );
  users
    .command('disable')
    .argument('<id>')
    .description('Disable a user (their sessions and keys stop working)')
    .action(
      act((id: string) => verbs.users().updateUserCommand(client(), id, { disabled: true }, process.stdout)),
    );
  users
    .command('enable')
    .argument('<id>')
    .description('Enable a disabled user')
    .action(
      act((id: string) => verbs.users().updateUserCommand(client(), id, { disabled: false }, process.stdout)),
    );

  const quota = program
    .command('quota')
    .description('Show or change team and API key quotas (admin API)')
    .addHelpText('after', CLIENT_ENV);
  quota
    .command('get')
    .argument('<team|key>')
    .argument('<id>')
    .description('Show the limits of a team or key, and what is in use now')
    .action(
      act((subject: 'team' | 'key', id: string) =>
        verbs.quota().quotaGetCommand(client(), subject, id, process.stdout),
      ),
    );
  quota
    .command('set')
    .argument('<team|key>')
    .argument('<id>')
    .description("Change limits (only those given; 'none' removes one). A key can only narrow its team.")
    .option('--rpm <n>', 'Requests per minute')
    .option('--tpm <n>', 'Tokens per minute (prompt + completion)')
    .option('--concurrent <n>', 'Concurrent requests')
    .option('--daily <n>', 'Tokens per UTC day')
    .option('--monthly <n>', 'Tokens per UTC month')
    .option('--max-request-tokens <n>', 'Tokens one request may use (prompt + completion)')
    .option('--models <list>', "Comma-separated allowed models, or 'all'")
    .option('--weight <n>', 'Fair-share weight of a team under contention (default 1)')
    .option('--priority <p>', 'interactive or batch (keys)')
    .action(
      act((subject: 'team' | 'key', id: string, flags: import('./commands/quota').QuotaFlags) =>
        verbs.quota().quotaSetCommand(client(), subject, id, flags, process.stdout),
      ),
    );
  program
    .command('usage')
    .description('Token usage by team, key, user and model (admin API)')
    .option('--from <time>', 'Start (RFC 3339; default 30 days before --to)')
    .option('--to <time>', 'End, exclusive (RFC 3339; default the next full hour)')
    .option('--group-by <list>', 'Comma-separated: team,key,user,model')
    .option('--granularity <g>', 'hour, day, month or total (default day)')
    .option('--team <id>', 'Only this team')
    .option('--key <id>', 'Only this key')
    .option('--user <id>', 'Only this user')
    .option('--model <name>', 'Only this model')
    .option('--csv', 'Print CSV instead of a table')
    .addHelpText('after', CLIENT_ENV)
    .action(
      act((flags: import('./commands/quota').UsageFlags) =>
        verbs.quota().usageCommand(client(), flags, process.stdout),
      ),
    );

  const audit = program.command('audit').description('Search, export and verify the audit log');
  const auditFilters = (c: Command) =>
    c
      .option('--from <time>', 'Only events at or after this ISO time')
      .option('--to <time>', 'Only events before this ISO time')
      .option('--actor <id>', 'Only events by this user or key id')
      .option('--team <id>', 'Only events of this team')
      .option('--action <action>', 'Only this action (a trailing * matches a prefix, e.g. key.*)')
      .option('--resource <resource>', 'Only this resource (a trailing * matches a prefix)')
      .option('--outcome <outcome>', 'success, failure, or an HTTP status')
      .addHelpText('after', CLIENT_ENV);
  auditFilters(audit.command('search').description('List audit events, newest first'))
    .option('--limit <n>', 'Events per page (default 100)')
    .option('--cursor <cursor>', 'Continue from a previous page')
    .option('--json', 'Print the raw JSON page')
    .action(
      act((flags: import('./commands/audit').AuditSearchFlags) =>
        verbs.audit().auditSearchCommand(client(), flags, process.stdout),
      ),
    );
  auditFilters(audit.command('export').description('Export audit events, oldest first'))
    .option('--format <format>', 'ndjson or csv (default ndjson)')
    .option('-o, --output <file>', 'Write to a file instead of stdout')
    .action(
      act((flags: import('./commands/audit').AuditFilterFlags & { format?: string; output?: string }) =>
        verbs.audit().auditExportCommand(client(), flags, process.stdout),
      ),
    );
  audit
    .command('verify')
    .description('Verify the hash chain and signed checkpoints; exit status 1 names the first tampered event')
    .option('--local', 'Open the database directly (on the server machine; stop an embedded server first)')
    .option('--json', 'Print the report as JSON')
    .addHelpText('after', CLIENT_ENV)
    .action(
      act((flags: { local?: boolean; json?: boolean }) =>
        verbs.audit().auditVerifyCommand(client(), flags, process.stdout),
      ),
    );
  audit
    .command('rotate-key')
    .description(
      'Rotate the checkpoint signing key; older checkpoints keep verifying with the old public key',
    )
    .option('--local', 'Rotate the key files in $CORRAL_HOME directly (with the server stopped)')
    .option('--json', 'Print the result as JSON')
    .addHelpText('after', CLIENT_ENV)
    .action(
      act((flags: { local?: boolean; json?: boolean }) =>
        verbs.audit().auditRotateKeyCommand(client(), flags, process.stdout),
      ),
    );

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
