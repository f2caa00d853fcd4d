/**
 * Console passwords: argon2id (the @node-rs/argon2 default) and a strength check that says why a
 * password is refused.
 */
import { hash, verify } from '@node-rs/argon2';
import { CorralError } from '@corral/common';

export const MIN_PASSWORD_LENGTH = 12;

const COMMON = new Set([
  'password',
  'passw0rd',
  'qwerty',
  'letmein',
  'welcome',
  'admin',
  'administrator',
  'corral',
  'changeme',
  'iloveyou',
  'monkey',
  'dragon',
  'abc123',
  '123456',
  '12345678',
  '123456789',
]);

/** Why a password is too weak, or undefined when it is acceptable. */
export function passwordProblem(password: string, context: string[] = []): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH)
    return `password must be at least ${MIN_PASSWORD_LENGTH} characters long`;
  if (password.length > 1024) return 'password must be at most 1024 characters long';
  if (new Set(password).size < 5) return 'password repeats too few distinct characters';
  const lower = password.toLowerCase();
  const stripped = lower.replace(/[^a-z]/g, '');
  if (COMMON.has(lower) || COMMON.has(stripped) || /^(.)\1+$|^(0123456789|abcdefghij)/.test(lower))
    return 'password is too common';
  for (const c of context) {
    const part = c.toLowerCase().split('@')[0] ?? '';
    if (part.length >= 4 && lower.includes(part)) return 'password must not contain your name or email';
  }
  return undefined;
}

export function assertStrongPassword(password: string, context: string[] = []): void {
  const problem = passwordProblem(password, context);
  if (problem) throw new CorralError('bad_request', `weak password: ${problem}`, 'password');
}

export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

/** False for a wrong password or an unusable stored hash. */
export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}
