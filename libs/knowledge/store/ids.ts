import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function base62(n: number): string {
  const bytes = randomBytes(n);
  let s = '';
  for (const b of bytes) s += ALPHABET[b % 62];
  return s;
}

/** OpenAI's id shapes, so SDKs and tools that look at prefixes are not surprised. */
export const newFileId = () => `file-${base62(22)}`;
export const newBaseId = () => `vs_${base62(24)}`;
export const newBatchId = () => `vsfb_${base62(24)}`;
