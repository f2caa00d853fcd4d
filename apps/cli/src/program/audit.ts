/** The audit log: `audit search|export|verify|rotate-key`. */
import type { Command } from 'commander';
import { CLIENT_ENV, act, client, verbs } from './shared';

export function registerAudit(program: Command): void {
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
      act((flags: import('../commands/audit').AuditSearchFlags) =>
        verbs.audit().auditSearchCommand(client(), flags, process.stdout),
      ),
    );
  auditFilters(audit.command('export').description('Export audit events, oldest first'))
    .option('--format <format>', 'ndjson or csv (default ndjson)')
    .option('-o, --output <file>', 'Write to a file instead of stdout')
    .action(
      act((flags: import('../commands/audit').AuditFilterFlags & { format?: string; output?: string }) =>
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
}
