import { readFileSync } from 'node:fs';
import { ENV_KEYS, clientBaseUrl, loadConfig, parseDuration, parseHost } from '@corral/config';

describe('config', () => {
  it('defaults to embedded mode on Ollama port', () => {
    const c = loadConfig({ CORRAL_HOME: '/tmp/x' });
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(11434);
    expect(c.database).toEqual({ kind: 'pglite', dataDir: '/tmp/x/db' });
    expect(c.modelsDir).toBe('/tmp/x/models');
    expect(c.keepAliveMs).toBe(300_000);
  });
  it('CORRAL_HOST wins over OLLAMA_HOST', () => {
    expect(loadConfig({ CORRAL_HOST: ':8080', OLLAMA_HOST: '0.0.0.0:9' }).port).toBe(8080);
    expect(loadConfig({ OLLAMA_HOST: '0.0.0.0' })).toMatchObject({ host: '0.0.0.0', port: 11434 });
  });
  it('names every bad key', () => {
    expect(() => loadConfig({ OLLAMA_NUM_PARALLEL: 'lots', CORRAL_GPU: 'tpu' })).toThrow(
      /OLLAMA_NUM_PARALLEL[\s\S]*CORRAL_GPU|CORRAL_GPU[\s\S]*OLLAMA_NUM_PARALLEL/,
    );
  });
  it('parses hosts and durations like Ollama', () => {
    expect(parseHost('http://[::1]:1234')).toEqual({ host: '::1', port: 1234 });
    expect(parseHost('example.com')).toEqual({ host: 'example.com', port: 11434 });
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('-1')).toBe(-1000);
    expect(parseDuration(0)).toBe(0);
    expect(parseDuration('soon')).toBeUndefined();
    expect(clientBaseUrl({ OLLAMA_HOST: '0.0.0.0:9999' })).toBe('http://127.0.0.1:9999');
  });
});

describe('config docs', () => {
  it('documents every key in docs/configuration.md and the example env file', () => {
    const doc = readFileSync(__dirname + '/../../docs/configuration.md', 'utf8');
    const example = readFileSync(__dirname + '/../../config/corral.env.example', 'utf8');
    for (const key of Object.keys(ENV_KEYS)) {
      if (key === 'OLLAMA_HOST') continue;
      expect(doc).toContain('`' + key + '`');
      expect(example).toContain(key + '=');
    }
  });
});

describe('cluster settings', () => {
  it('CORRAL_CLUSTER=1 needs REDIS_URL and reads prefix and placement', () => {
    expect(() => loadConfig({ CORRAL_CLUSTER: '1' })).toThrow(/REDIS_URL/);
    const c = loadConfig({
      CORRAL_CLUSTER: '1',
      REDIS_URL: 'redis://r:6379',
      CORRAL_CLUSTER_PREFIX: 'site-a',
      CORRAL_PLACEMENT: 'spread',
    });
    expect(c.cluster).toEqual({ redisUrl: 'redis://r:6379', prefix: 'site-a', placement: 'spread' });
    expect(loadConfig({ REDIS_URL: 'redis://r:6379' }).cluster).toBeUndefined();
  });

  it('reads worker memory as a size', () => {
    expect(loadConfig({ CORRAL_WORKER_MEMORY: '2GiB' }).worker.memoryBytes).toBe(2 * 1024 ** 3);
    expect(loadConfig({ CORRAL_WORKER_MEMORY: '512MiB' }).worker.memoryBytes).toBe(512 * 1024 ** 2);
    expect(loadConfig({ CORRAL_WORKER_MEMORY: '1000' }).worker.memoryBytes).toBe(1000);
    expect(() => loadConfig({ CORRAL_WORKER_MEMORY: 'lots' })).toThrow(/CORRAL_WORKER_MEMORY/);
  });
  it('CORRAL_PIN: always-loaded and worker-restricted models; a malformed list is refused', () => {
    expect(loadConfig({}).pins).toEqual([]);
    expect(
      loadConfig({ CORRAL_PIN: 'llama3:8b; team/qwen2:7b@gpu-a,gpu-b ; phi3@gpu-c on-demand;' }).pins,
    ).toEqual([
      { model: 'llama3:8b', workers: undefined, loaded: true },
      { model: 'team/qwen2:7b', workers: ['gpu-a', 'gpu-b'], loaded: true },
      { model: 'phi3', workers: ['gpu-c'], loaded: false },
    ]);
    expect(() => loadConfig({ CORRAL_PIN: 'llama3@' })).toThrow(/CORRAL_PIN: entries separated by ";"/);
    expect(() => loadConfig({ CORRAL_PIN: 'llama3 sometimes' })).toThrow(/CORRAL_PIN/);
  });
  it('CORRAL_WORKER_GATEWAY: an http(s) origin', () => {
    expect(
      loadConfig({ CORRAL_WORKER_GATEWAY: 'http://gw.internal:11434/', CORRAL_WORKER_KEY: 'k' }).worker,
    ).toMatchObject({ gateway: 'http://gw.internal:11434', gatewayKey: 'k' });
    expect(() => loadConfig({ CORRAL_WORKER_GATEWAY: 'gw:11434' })).toThrow(/CORRAL_WORKER_GATEWAY/);
    expect(() => loadConfig({ CORRAL_WORKER_GATEWAY: 'http://gw/v2' })).toThrow(/CORRAL_WORKER_GATEWAY/);
  });
});
