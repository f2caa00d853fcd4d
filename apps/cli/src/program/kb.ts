/** Knowledge bases: `kb create|list|add|rm|docs|search|reindex|eval`. */
import type { Command } from 'commander';
import { CLIENT_ENV, act, client } from './shared';

// Loaded when a kb verb runs, like the verbs in shared.ts.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const kb = () => require('../commands/kb') as typeof import('../commands/kb');

const collect = (value: string, prior: string[] = []) => [...prior, value];

function settingsOptions(cmd: Command): Command {
  return cmd
    .option('--team <id>', "Owning team (default: the key's team)")
    .option('--embedding-model <model>', 'Embedding model for dense retrieval (default: BM25 only)')
    .option('--chunk-size <tokens>', 'Static chunks of this many tokens (default: heading-aware auto)')
    .option('--chunk-overlap <tokens>', 'Tokens shared by neighbouring chunks (default: half the size)')
    .option('--language <name>', 'Text search language: english, german, simple, ... (default english)');
}

export function registerKb(program: Command): void {
  const group = program
    .command('kb')
    .description('Manage knowledge bases: upload documents, search, evaluate retrieval')
    .addHelpText('after', CLIENT_ENV);
  settingsOptions(
    group.command('create').argument('<name>').description('Create a knowledge base; prints its id'),
  ).action(
    act((name: string, flags: import('../commands/kb').BaseSettingsFlags) =>
      kb().createKbCommand(client(), name, flags, process.stdout),
    ),
  );
  group
    .command('list')
    .alias('ls')
    .description('List knowledge bases')
    .action(act(() => kb().listKbCommand(client(), process.stdout)));
  group
    .command('add')
    .argument('<kb>', 'Knowledge base id or name')
    .argument('<paths...>', 'Files, or directories to add every file under')
    .option('--attr <key=value>', 'Attribute on every added document (repeatable)', collect)
    .description('Upload files and index them; lists the files that failed (exit status 1 if any)')
    .action(
      act((ref: string, paths: string[], flags: { attr?: string[] }) =>
        kb().addKbCommand(client(), ref, paths, flags, process.stdout),
      ),
    );
  group
    .command('rm')
    .argument('<kb>', 'Knowledge base id or name')
    .argument('[file_id]', 'Remove only this document')
    .option('--files', 'Delete the uploaded files too, not only the documents')
    .description('Delete a knowledge base, or one document from it')
    .action(
      act((ref: string, fileId: string | undefined, flags: { files?: boolean }) =>
        kb().rmKbCommand(client(), ref, fileId, flags, process.stdout),
      ),
    );
  group
    .command('docs')
    .argument('<kb>', 'Knowledge base id or name')
    .description("List a knowledge base's documents with their state")
    .action(act((ref: string) => kb().docsKbCommand(client(), ref, process.stdout)));
  group
    .command('search')
    .argument('<kb>', 'Knowledge base id or name')
    .argument('<query...>')
    .option('-k <n>', 'Results (1-50; default: the base top_k)')
    .option('--json', 'Print the hits as JSON')
    .description('Search a knowledge base')
    .action(
      act((ref: string, words: string[], flags: { k?: string; json?: boolean }) =>
        kb().searchKbCommand(client(), ref, words, flags, process.stdout),
      ),
    );
  group
    .command('reindex')
    .argument('<kb>', 'Knowledge base id or name')
    .description('Rebuild the index; searches use the current one until it is done')
    .action(act((ref: string) => kb().reindexKbCommand(client(), ref, process.stdout)));
  settingsOptions(
    group
      .command('eval')
      .argument('[kb]', 'Knowledge base id or name (or --corpus)')
      .requiredOption('--queries <file>', 'BEIR queries.jsonl')
      .requiredOption('--qrels <file>', 'BEIR qrels TSV (query-id, corpus-id, score)')
      .option('--corpus <file>', 'BEIR corpus.jsonl: index it in a temporary knowledge base first')
      .option('--keep', 'Keep the temporary knowledge base')
      .option('-k <n>', 'Results per query (the API returns at most 50; default 100)')
      .description('Measure retrieval quality: nDCG@10, recall@10, recall@100, MRR@10'),
  ).action(
    act((ref: string | undefined, flags: import('../commands/kb').EvalFlags) =>
      kb().evalKbCommand(client(), ref, flags, process.stdout),
    ),
  );
}
