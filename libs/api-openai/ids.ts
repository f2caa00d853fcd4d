import { randomBytes } from 'node:crypto';

/** Ids in OpenAI's shapes (`chatcmpl-…`, `cmpl-…`, `call_…`); clients only need them unique. */
export function openAiId(prefix: 'chatcmpl-' | 'cmpl-' | 'call_'): string {
  return prefix + randomBytes(12).toString('base64url').replace(/[-_]/g, 'x');
}

export const SYSTEM_FINGERPRINT = 'fp_corral';

export function unixSeconds(date: Date = new Date()): number {
  return Math.floor(date.getTime() / 1000);
}
