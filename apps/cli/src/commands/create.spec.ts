import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorralClient } from '../client';
import { Progress } from '../progress';
import { Capture, FakeServer, type RecordedRequest } from '@corral/testing';
import { createCommand } from './create';

const sha = (data: string | Buffer) => 'sha256:' + createHash('sha256').update(data).digest('hex');

const CREATE_STATUSES = [
  { status: 'parsing GGUF' },
  { status: 'using existing layer sha256:abc' },
  { status: 'writing manifest' },
  { status: 'success' },
];

describe('corral create', () => {
  let dir: string;
  let server: FakeServer;
  /** Digests the fake server already holds (HEAD answers 200 for them). */
  let held: Set<string>;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'corral-cli-create-'));
    held = new Set();
    server = await new FakeServer((req) => {
      const blob = /^\/api\/blobs\/(sha256:[0-9a-f]{64})$/.exec(req.path);
      if (blob && req.method === 'HEAD') return { status: held.has(blob[1] ?? '') ? 200 : 404 };
      if (blob && req.method === 'POST') {
        held.add(blob[1] ?? '');
        return { status: 201 };
      }
      if (req.path === '/api/create') return { ndjson: CREATE_STATUSES };
      return undefined;
    }).start();
  });

  afterEach(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (name: string, opts: { file?: string; quantize?: string } = {}) => {
    const err = new Capture();
    const client = new CorralClient({ baseUrl: server.url, apiKey: 'k-test' });
    await createCommand(client, name, { ...opts, cwd: dir, home: join(dir, 'home') }, new Progress(err));
    return err.text;
  };

  const summary = (reqs: RecordedRequest[]) => reqs.map((r) => `${r.method} ${r.path}`);

  it('hashes the FROM file, uploads it when HEAD says it is missing, then creates with its digest', async () => {
    const weights = Buffer.from('GGUF fake weights \u0000\u0001\u0002'.repeat(1000));
    await mkdir(join(dir, 'models'));
    await writeFile(join(dir, 'models', 'tiny.gguf'), weights);
    await writeFile(
      join(dir, 'Modelfile'),
      [
        'FROM ./models/tiny.gguf',
        'PARAMETER temperature 0.5',
        'PARAMETER stop "<|im_end|>"',
        'PARAMETER stop "<|im_start|>"',
        'SYSTEM """You are terse."""',
        'TEMPLATE "{{ .Prompt }}"',
        'MESSAGE user hi',
        'MESSAGE assistant hello',
        'LICENSE MIT',
      ].join('\n'),
    );
    const digest = sha(weights);

    const stderr = await run('tiny', { quantize: 'q4_K_M' });

    expect(summary(server.requests)).toEqual([
      `HEAD /api/blobs/${digest}`,
      `POST /api/blobs/${digest}`,
      'POST /api/create',
    ]);
    const [, upload, create] = server.requests;
    expect(upload?.body.equals(weights)).toBe(true);
    expect(upload?.headers.authorization).toBe('Bearer k-test');
    expect(create?.json).toEqual({
      model: 'tiny',
      files: { 'tiny.gguf': digest },
      template: '{{ .Prompt }}',
      system: 'You are terse.',
      parameters: { temperature: 0.5, stop: ['<|im_end|>', '<|im_start|>'] },
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
      ],
      license: ['MIT'],
      quantize: 'q4_K_M',
      stream: true,
    });
    expect(stderr.split('\n').filter(Boolean)).toEqual([
      'gathering model components',
      `copying file ${digest} 100%`,
      'parsing GGUF',
      'using existing layer sha256:abc',
      'writing manifest',
      'success',
    ]);
  });

  it('skips the upload when the server already has the blob, and uploads ADAPTER files too', async () => {
    const weights = Buffer.from('weights');
    const lora = Buffer.from('lora');
    await writeFile(join(dir, 'w.gguf'), weights);
    await mkdir(join(dir, 'home'));
    await writeFile(join(dir, 'home', 'lora.gguf'), lora);
    await writeFile(join(dir, 'custom.modelfile'), 'FROM w.gguf\nADAPTER ~/lora.gguf\n');
    held.add(sha(weights));

    await run('with-lora', { file: 'custom.modelfile' });

    expect(summary(server.requests)).toEqual([
      `HEAD /api/blobs/${sha(weights)}`,
      `HEAD /api/blobs/${sha(lora)}`,
      `POST /api/blobs/${sha(lora)}`,
      'POST /api/create',
    ]);
    expect(server.requests[3]?.json).toEqual({
      model: 'with-lora',
      files: { 'w.gguf': sha(weights) },
      adapters: { 'lora.gguf': sha(lora) },
      stream: true,
    });
  });

  it('sends `from` when FROM names an existing model, with no blob traffic', async () => {
    await writeFile(join(dir, 'Modelfile'), 'FROM llama3.2:1b\nPARAMETER num_ctx 8192\nSYSTEM Be brief.\n');

    await run('brief');

    expect(summary(server.requests)).toEqual(['POST /api/create']);
    expect(server.requests[0]?.json).toEqual({
      model: 'brief',
      from: 'llama3.2:1b',
      system: 'Be brief.',
      parameters: { num_ctx: 8192 },
      stream: true,
    });
  });

  it('uploads every file of a FROM directory under its relative name', async () => {
    await mkdir(join(dir, 'st', 'sub'), { recursive: true });
    await writeFile(join(dir, 'st', 'model.safetensors'), 'tensors');
    await writeFile(join(dir, 'st', 'config.json'), '{}');
    await writeFile(join(dir, 'st', 'sub', 'tokenizer.model'), 'tok');
    await writeFile(join(dir, 'st', '.gitattributes'), 'hidden');
    await writeFile(join(dir, 'Modelfile'), 'FROM ./st\n');

    await run('st');

    const create = server.requests.find((r) => r.path === '/api/create');
    expect(create?.json).toMatchObject({
      files: {
        'config.json': sha('{}'),
        'model.safetensors': sha('tensors'),
        'sub/tokenizer.model': sha('tok'),
      },
    });
    expect(
      server.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/api/blobs/')),
    ).toHaveLength(3);
  });

  it('fails clearly for a missing FROM path, a missing -f file, and a server error line', async () => {
    await writeFile(join(dir, 'Modelfile'), 'FROM ./nope.gguf\n');
    await expect(run('x')).rejects.toThrow(/FROM \.\/nope\.gguf: no such file or directory/);
    await expect(run('x', { file: 'Other' })).rejects.toThrow(/specified Modelfile wasn't found/);
    expect(server.requests).toEqual([]);

    await server.stop();
    server = await new FakeServer((req) =>
      req.path === '/api/create'
        ? { ndjson: [{ status: 'gathering model components' }, { error: "model 'ghost' not found" }] }
        : undefined,
    ).start();
    await writeFile(join(dir, 'Modelfile'), 'FROM ghost\n');
    await expect(run('x')).rejects.toThrow("model 'ghost' not found");
  });
});
