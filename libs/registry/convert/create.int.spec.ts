import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { readGguf } from '../gguf';
import { createRegistry, type ModelRegistry } from '../registry.service';
import { buildTinyHf } from './tiny-hf';

// /api/create with a Hugging Face checkpoint: uploaded as blobs (what `corral create` and
// Ollama's client send) or a directory named by a server-side Modelfile; with and without quantize.
jest.setTimeout(300_000);

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  }
  return out.sort();
}

let root: string;
let reg: ModelRegistry;
let hf: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(tmpdir(), 'corral-create-hf-'));
  hf = (await buildTinyHf(path.join(root, 'qwen-hf'), { family: 'qwen2', dtype: 'F16', shards: 2 })).dir;
});
beforeEach(() => {
  // The legacy FROM-path tests import from the test folder (CORRAL_IMPORT_DIRS).
  reg = createRegistry({ modelsDir: path.join(root, `models-${Date.now()}`), importDirs: [root] });
});
afterAll(() => fs.rm(root, { recursive: true, force: true }));

async function uploadDir(dir: string): Promise<Record<string, string>> {
  await reg.init();
  const files: Record<string, string> = {};
  for (const name of await fs.readdir(dir)) {
    const data = await fs.readFile(path.join(dir, name));
    files[name] = (await reg.blobs.put(sha(data), Readable.from([data]))).digest;
  }
  return files;
}

test('uploaded checkpoint + quantize: converts, quantizes, reports progress like Ollama', async () => {
  const files = await uploadDir(hf);
  const statuses: string[] = [];
  await reg.create({ model: 'tiny-qwen', files, quantize: 'q4_K_M' }, (s) => statuses.push(s));
  expect(statuses[0]).toBe('converting model');
  expect(statuses).toContain('quantizing F16 model to Q4_K_M');
  expect(statuses.at(-1)).toBe('success');
  const m = await reg.resolve('tiny-qwen');
  expect(m.details).toMatchObject({ format: 'gguf', family: 'qwen2', quantization_level: 'Q4_K_M' });
  const { tensors, metadata } = await readGguf(m.modelPath);
  expect(metadata['general.name']).toBe('tiny-qwen');
  expect(tensors.find((t) => t.name === 'blk.0.attn_q.weight')?.typeName).toBe('Q4_K');
  // Only the uploads, the quantized model and the small layers remain: no converted F16 temp.
  const blobs = (await tree(reg.blobs.dir)).filter(
    (f) => !Object.values(files).some((d) => f === d.replace(':', '-')),
  );
  expect(blobs.length).toBe(2); // model + config
});

test('FROM a local checkpoint directory in a Modelfile', async () => {
  const statuses: string[] = [];
  await reg.create({ model: 'tiny-qwen-f16', modelfile: `FROM ${hf}\nPARAMETER temperature 0.2` }, (s) =>
    statuses.push(s),
  );
  expect(statuses).toContain('converting model');
  const m = await reg.resolve('tiny-qwen-f16');
  expect(m.details).toMatchObject({ family: 'qwen2', quantization_level: 'F16' });
  expect(m.parameters).toMatchObject({ temperature: 0.2 });
});

test.each([
  [
    'missing tokenizer.json',
    (f: Record<string, string>) => delete f['tokenizer.json'],
    /missing tokenizer\.json/,
  ],
  [
    'a shard named by the index',
    (f: Record<string, string>) => delete f['model-00002-of-00002.safetensors'],
    /missing model-00002-of-00002\.safetensors \(named by model\.safetensors\.index\.json\)/,
  ],
])('refuses a checkpoint with %s, storing nothing', async (_label, mutate, message) => {
  const files = await uploadDir(hf);
  const before = await tree(reg.blobs.dir);
  mutate(files);
  await expect(reg.create({ model: 'bad', files }, () => {})).rejects.toThrow(message);
  expect(await tree(reg.blobs.dir)).toEqual(before);
  expect(await reg.list()).toEqual([]);
});

test('refuses an unsupported architecture and inconsistent shapes, naming them', async () => {
  const dir = path.join(root, 'bad-hf');
  await fs.cp(hf, dir, { recursive: true });
  const cfgPath = path.join(dir, 'config.json');
  const cfg = JSON.parse(await fs.readFile(cfgPath, 'utf8')) as Record<string, unknown>;
  await fs.writeFile(cfgPath, JSON.stringify({ ...cfg, architectures: ['MambaForCausalLM'] }));
  await expect(reg.create({ model: 'bad', modelfile: `FROM ${dir}` }, () => {})).rejects.toThrow(
    /architecture MambaForCausalLM is not supported/,
  );
  await fs.writeFile(cfgPath, JSON.stringify({ ...cfg, intermediate_size: 768 }));
  await expect(reg.create({ model: 'bad', modelfile: `FROM ${dir}` }, () => {})).rejects.toThrow(
    /tensor 'model\.layers\.0\.mlp\.gate_proj\.weight' has shape \[512, 256\], config\.json implies \[768, 256\]/,
  );
  expect(await tree(reg.blobs.dir)).toEqual([]);
});

test('refuses a truncated safetensors file', async () => {
  const dir = path.join(root, 'trunc-hf');
  await fs.cp(hf, dir, { recursive: true });
  const shard = path.join(dir, 'model-00001-of-00002.safetensors');
  const data = await fs.readFile(shard);
  await fs.writeFile(shard, data.subarray(0, data.length - 100));
  await expect(reg.create({ model: 'bad', modelfile: `FROM ${dir}` }, () => {})).rejects.toThrow(
    /model-00001-of-00002\.safetensors: tensor '.*' has data offsets outside the file/,
  );
});

test('quantizes an existing model (FROM name) and a local GGUF, leaving no unquantized copy', async () => {
  await reg.create({ model: 'base', modelfile: `FROM ${hf}` }, () => {});
  const base = await reg.resolve('base');
  await reg.create({ model: 'small', from: 'base', quantize: 'q8_0' }, () => {});
  expect((await reg.resolve('small')).details.quantization_level).toBe('Q8_0');
  expect((await reg.resolve('base')).details.quantization_level).toBe('F16');

  const gguf = path.join(root, 'local.gguf');
  await fs.copyFile(base.modelPath, gguf);
  await reg.delete('base');
  await reg.delete('small');
  expect(await tree(reg.blobs.dir)).toEqual([]);
  await reg.create({ model: 'local-q', modelfile: `FROM ${gguf}`, quantize: 'q8_0' }, () => {});
  expect((await reg.resolve('local-q')).details.quantization_level).toBe('Q8_0');
  // The F16 copy of local.gguf is gone: only the Q8_0 model and the config remain.
  expect((await tree(reg.blobs.dir)).length).toBe(2);
});
