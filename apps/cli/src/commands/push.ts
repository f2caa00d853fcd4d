/** `corral push HOST/namespace/model:tag`: see pull.ts; the model must exist locally under that name. */
import type { CorralClient } from '../client';
import type { Progress } from '../progress';
import { transfer, type TransferFlags } from './pull';

export function pushCommand(client: CorralClient, model: string, flags: TransferFlags, progress: Progress) {
  return transfer(client, '/api/push', model, flags, progress);
}
