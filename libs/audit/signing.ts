/**
 * The Ed25519 key that signs checkpoints. Kept at `$CORRAL_HOME/audit-signing.key` (PKCS#8 PEM,
 * mode 0600, created at first start), or read from `CORRAL_AUDIT_KEY_FILE` (a mounted secret, never
 * created). Verification uses this key's public half, never a key stored beside the events, so
 * someone who can write the database cannot re-sign a rewritten chain.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeSync,
  closeSync,
  fsyncSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { canonicalJson } from './chain';

export interface AuditSigner {
  /** First 16 hex chars of sha256(SPKI DER): names the key in each checkpoint. */
  readonly keyId: string;
  readonly publicKey: KeyObject;
  sign(payload: CheckpointPayload): string;
  verify(payload: CheckpointPayload, signature: string): boolean;
}

/** What a checkpoint signs: the chain head at `seq`. */
export interface CheckpointPayload {
  seq: number;
  hash: string;
  time: string;
  keyId: string;
}

export function signerFromKey(privateKey: KeyObject): AuditSigner {
  const publicKey = createPublicKey(privateKey);
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const keyId = createHash('sha256').update(der).digest('hex').slice(0, 16);
  const bytes = (p: CheckpointPayload) => Buffer.from(canonicalJson(p));
  return {
    keyId,
    publicKey,
    sign: (p) => sign(null, bytes(p), privateKey).toString('base64'),
    verify: (p, s) => {
      try {
        return verify(null, bytes(p), publicKey, Buffer.from(s, 'base64'));
      } catch {
        return false;
      }
    },
  };
}

/** Default key path for a data directory. */
export const signingKeyPath = (home: string) => join(home, 'audit-signing.key');

/**
 * Loads the signing key; creates it (0600) when `create` is set and the file is missing. A mounted
 * secret (`CORRAL_AUDIT_KEY_FILE`) is never created: a missing one is a configuration error.
 */
export function loadSigningKey(path: string, opts: { create: boolean }): AuditSigner {
  if (!existsSync(path)) {
    if (!opts.create) throw new Error(`audit signing key not found at ${path}`);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = String(privateKey.export({ type: 'pkcs8', format: 'pem' }));
    // 'wx' so two processes starting at once cannot overwrite each other's key.
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, pem);
      fsyncSync(fd);
      closeSync(fd);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    chmodSync(path, 0o600);
  }
  const key = createPrivateKey(readFileSync(path));
  if (key.asymmetricKeyType !== 'ed25519')
    throw new Error(`audit signing key at ${path} is not an Ed25519 key`);
  return signerFromKey(key);
}
