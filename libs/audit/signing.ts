/**
 * The Ed25519 key that signs checkpoints. Kept at `$CORRAL_HOME/audit-signing.key` (PKCS#8 PEM,
 * mode 0600, created at first start), or read from `CORRAL_AUDIT_KEY_FILE` (a mounted secret, never
 * created). Verification uses this key's public half, never a key stored beside the events, so
 * someone who can write the database cannot re-sign a rewritten chain.
 *
 * Rotation (`rotateSigningKey`): the current key's public half is kept in `$CORRAL_HOME/audit-keys/
 * <keyId>.pem` and a new key replaces the key file. Verification trusts the current key and every
 * kept public key, so checkpoints signed before a rotation still verify; a checkpoint naming any
 * other key fails.
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
  readdirSync,
  renameSync,
  writeSync,
  closeSync,
  fsyncSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { canonicalJson } from './chain';
import { fsyncDir } from '@corral/durable';

export interface AuditSigner {
  /** First 16 hex chars of sha256(SPKI DER): names the key in each checkpoint. */
  readonly keyId: string;
  readonly publicKey: KeyObject;
  sign(payload: CheckpointPayload): string;
  /** Checks a signature with the key the payload names (when trusted). */
  verify(payload: CheckpointPayload, signature: string): boolean;
  /** Whether checkpoints signed by this key id are accepted (the current key, or a retired one kept). */
  trusts(keyId: string): boolean;
}

/** Names a public key: first 16 hex chars of sha256(SPKI DER). */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/** Writes a file durably: temp file, fsync, rename, fsync of the directory. */
export function writeFileDurably(path: string, data: string, mode = 0o600): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, mode);
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

/** What a checkpoint signs: the chain head at `seq`. */
export interface CheckpointPayload {
  seq: number;
  hash: string;
  time: string;
  keyId: string;
}

/**
 * A signer for `privateKey` that also accepts checkpoints signed by `retired` public keys (kept
 * from earlier rotations).
 */
export function signerFromKey(privateKey: KeyObject, retired: KeyObject[] = []): AuditSigner {
  const publicKey = createPublicKey(privateKey);
  const keyId = keyIdOf(publicKey);
  const trusted = new Map<string, KeyObject>(retired.map((k) => [keyIdOf(k), k]));
  trusted.set(keyId, publicKey);
  const bytes = (p: CheckpointPayload) => Buffer.from(canonicalJson(p));
  return {
    keyId,
    publicKey,
    sign: (p) => sign(null, bytes(p), privateKey).toString('base64'),
    verify: (p, s) => {
      const key = trusted.get(p.keyId);
      if (!key) return false;
      try {
        return verify(null, bytes(p), key, Buffer.from(s, 'base64'));
      } catch {
        return false;
      }
    },
    trusts: (id) => trusted.has(id),
  };
}

/** Where retired public keys are kept: `$CORRAL_HOME/audit-keys`. */
export const retiredKeysDir = (home: string) => join(home, 'audit-keys');

/** The retired public keys kept in `dir` (`<keyId>.pem`, SPKI PEM); none when it is missing. */
export function loadRetiredKeys(dir: string): KeyObject[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.pem'))
    .sort()
    .map((f) => createPublicKey(readFileSync(join(dir, f))));
}

export interface RotationResult {
  previousKeyId: string;
  keyId: string;
  /** Where the previous key's public half is kept. */
  retiredKeyFile: string;
}

/**
 * Rotates the key at `keyPath`: keeps the current public key in `retiredDir` (so its checkpoints
 * still verify), then replaces the key file with a new Ed25519 key, each step written durably.
 * Returns the new signer (trusting every retired key) and the key ids.
 */
export function rotateSigningKey(
  keyPath: string,
  retiredDir: string,
): RotationResult & { signer: AuditSigner } {
  const current = createPrivateKey(readFileSync(keyPath));
  const previousPublic = createPublicKey(current);
  const previousKeyId = keyIdOf(previousPublic);
  mkdirSync(retiredDir, { recursive: true, mode: 0o700 });
  const retiredKeyFile = join(retiredDir, `${previousKeyId}.pem`);
  writeFileDurably(retiredKeyFile, String(previousPublic.export({ type: 'spki', format: 'pem' })), 0o644);
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileDurably(keyPath, String(privateKey.export({ type: 'pkcs8', format: 'pem' })), 0o600);
  const signer = signerFromKey(privateKey, loadRetiredKeys(retiredDir));
  return { previousKeyId, keyId: signer.keyId, retiredKeyFile, signer };
}

/** Default key path for a data directory. */
export const signingKeyPath = (home: string) => join(home, 'audit-signing.key');

/**
 * Loads the signing key; creates it (0600) when `create` is set and the file is missing. A mounted
 * secret (`CORRAL_AUDIT_KEY_FILE`) is never created: a missing one is a configuration error.
 */
export function loadSigningKey(path: string, opts: { create: boolean; retiredDir?: string }): AuditSigner {
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
      fsyncDir(dirname(path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    chmodSync(path, 0o600);
  }
  const key = createPrivateKey(readFileSync(path));
  if (key.asymmetricKeyType !== 'ed25519')
    throw new Error(`audit signing key at ${path} is not an Ed25519 key`);
  return signerFromKey(key, opts.retiredDir ? loadRetiredKeys(opts.retiredDir) : []);
}
