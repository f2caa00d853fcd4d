/** The admin API's people and keys: `keys`, `teams`, `users`. */
import type { Command } from 'commander';
import { CLIENT_ENV, act, client, verbs } from './shared';

export function registerAdmin(program: Command): void {
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
      act((flags: import('../commands/keys').CreateKeyFlags) =>
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
      act((email: string, flags: import('../commands/users').CreateUserFlags) =>
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
}
