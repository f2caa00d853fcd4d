/** Quotas and what was used: `quota`, `usage`. */
import type { Command } from 'commander';
import { CLIENT_ENV, act, client, verbs } from './shared';

export function registerQuota(program: Command): void {
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
      act((subject: 'team' | 'key', id: string, flags: import('../commands/quota').QuotaFlags) =>
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
      act((flags: import('../commands/quota').UsageFlags) =>
        verbs.quota().usageCommand(client(), flags, process.stdout),
      ),
    );
}
