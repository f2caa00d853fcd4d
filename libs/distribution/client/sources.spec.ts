import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseRegistrySource, type RegistryConfig } from '@corral/config';
import { parseModelName } from '@corral/registry';
import { matchSource, resolveSource } from './sources';

const config = (allow: string, extra: Partial<RegistryConfig> = {}): RegistryConfig => ({
  ...loadConfig({ CORRAL_REGISTRY_ALLOW: allow }).registry,
  ...extra,
});

describe('registry allow-list', () => {
  it('parses entries with their scheme, port and key', () => {
    expect(parseRegistrySource('corral-a.internal')).toEqual({
      scheme: 'https',
      hostname: 'corral-a.internal',
      port: 443,
    });
    expect(parseRegistrySource('http://10.0.0.7:11434')).toEqual({
      scheme: 'http',
      hostname: '10.0.0.7',
      port: 11434,
    });
    expect(parseRegistrySource('https://crl_abc@Reg.Example:8443')).toEqual({
      scheme: 'https',
      hostname: 'reg.example',
      port: 8443,
      key: 'crl_abc',
    });
    expect(parseRegistrySource('http://[::1]:5000')).toMatchObject({ hostname: '::1', port: 5000 });
  });

  it('stops the server on an entry it cannot use', () => {
    expect(() => loadConfig({ CORRAL_REGISTRY_ALLOW: 'ftp://x' })).toThrow(
      /CORRAL_REGISTRY_ALLOW: .*only http/,
    );
    expect(() => loadConfig({ CORRAL_REGISTRY_ALLOW: 'http://x/path' })).toThrow(/no path/);
    expect(() => loadConfig({ CORRAL_REGISTRY_ALLOW: 'http://u:p@x' })).toThrow(/without a password/);
    expect(() => loadConfig({ CORRAL_PULL_PART_SIZE: '10' })).toThrow(/CORRAL_PULL_PART_SIZE/);
    expect(loadConfig({}).registry).toEqual({
      allow: [],
      pullConcurrency: 4,
      pullPartSize: 64 * 1024 * 1024,
    });
  });

  it('matches a name host by host name and port, the default port standing for none', () => {
    const allow = config('a.internal,http://b.internal:8080,http://127.0.0.1:5000').allow;
    expect(matchSource(allow, 'a.internal')?.port).toBe(443);
    expect(matchSource(allow, 'A.Internal:443')?.hostname).toBe('a.internal');
    expect(matchSource(allow, 'a.internal:8443')).toBeUndefined();
    expect(matchSource(allow, 'b.internal')).toBeUndefined();
    expect(matchSource(allow, 'b.internal:8080')?.scheme).toBe('http');
    expect(matchSource(allow, '127.0.0.1:5001')).toBeUndefined();
    expect(matchSource(allow, 'registry.ollama.ai')).toBeUndefined();
  });

  it('refuses unlisted hosts and insecure https sources with 403, and finds the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-src-'));
    try {
      const keyFile = join(dir, 'key');
      writeFileSync(keyFile, 'crl_from_file\n');
      const cfg = config('a.internal,http://crl_own@b.internal:8080', { keyFile });
      const name = (n: string) => parseModelName(n);
      await expect(resolveSource(cfg, name('evil.internal/ns/m'), { verb: 'pull' })).rejects.toMatchObject({
        code: 'forbidden',
        message: expect.stringMatching(/pulling from 'evil.internal' is not allowed/),
      });
      await expect(resolveSource(cfg, name('tiny'), { verb: 'push' })).rejects.toMatchObject({
        message: expect.stringMatching(/pushing to 'registry.ollama.ai'/),
      });
      await expect(
        resolveSource(cfg, name('a.internal/ns/m'), { verb: 'pull', insecure: true }),
      ).rejects.toMatchObject({
        code: 'forbidden',
        message: expect.stringMatching(/insecure/),
      });
      expect(await resolveSource(cfg, name('a.internal/ns/m'), { verb: 'pull' })).toEqual({
        origin: 'https://a.internal:443',
        key: 'crl_from_file',
      });
      expect(
        await resolveSource(cfg, name('b.internal:8080/ns/m'), { verb: 'pull', insecure: true }),
      ).toEqual({
        origin: 'http://b.internal:8080',
        key: 'crl_own',
      });
      expect(
        (await resolveSource({ ...cfg, key: 'crl_env' }, name('a.internal/ns/m'), { verb: 'pull' })).key,
      ).toBe('crl_env');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
