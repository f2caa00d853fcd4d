/**
 * `corral pull HOST/namespace/model:tag` and `corral push ...`: like `ollama pull|push`, a client of
 * the local gateway's /api/pull and /api/push, which do the transfer (and hold the allow-list, the
 * registry keys and the partial downloads). Progress is drawn as Ollama draws it: a bar per blob
 * ("pulling 3f2a...", "pushing 3f2a..."), a line per step. Interrupting a pull keeps its partial
 * files; running it again continues it.
 */
import type { ProgressResponse } from '../api-types';
import type { CorralClient } from '../client';
import type { Progress } from '../progress';

export interface TransferFlags {
  insecure?: boolean;
}

/** Draws one pull/push progress message. */
export function renderTransferProgress(progress: Progress, resp: ProgressResponse): void {
  if (resp.digest && resp.total !== undefined) {
    const verb = resp.status.startsWith('pushing') ? 'pushing' : 'pulling';
    progress.bar(
      resp.digest,
      `${verb} ${resp.digest.replace(/^sha256:/, '').slice(0, 12)}...`,
      resp.total,
      resp.completed ?? 0,
    );
  } else if (resp.status) {
    progress.status(resp.status);
  }
}

/** Streams /api/pull or /api/push and draws its progress. */
export async function transfer(
  client: CorralClient,
  path: '/api/pull' | '/api/push',
  model: string,
  flags: TransferFlags,
  progress: Progress,
): Promise<void> {
  try {
    for await (const resp of client.stream<ProgressResponse>(path, {
      model,
      insecure: flags.insecure ?? false,
      stream: true,
    })) {
      renderTransferProgress(progress, resp);
    }
  } finally {
    progress.stop();
  }
}

export function pullCommand(client: CorralClient, model: string, flags: TransferFlags, progress: Progress) {
  return transfer(client, '/api/pull', model, flags, progress);
}
