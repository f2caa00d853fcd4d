import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildTinyLlama } from './gguf';
import { createRegistry, ModelRegistry } from './registry.service';

const STORIES = path.resolve(__dirname, '../../../shared/models/stories260K.gguf');
const haveStories = existsSync(STORIES);
if (!haveStories) console.warn(`SKIPPED registry tests that need ${STORIES}: file not present`);
const withStories = haveStories ? describe : describe.skip;

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Every file under dir, relative, sorted: what "leaves nothing behind" is checked against. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  }
  return out.sort();
}

describe('ModelRegistry', () => {
  let root: string;
  let modelsDir: string;
  let reg: ModelRegistry;
  let gguf: string;

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(tmpdir(), 'corral-registry-'));
    modelsDir = path.join(root, 'models');
    // The legacy FROM-path tests import from the test folder (CORRAL_IMPORT_DIRS).
    reg = createRegistry({ modelsDir, importDirs: [root] });
    gguf = path.join(root, 'stories260K.gguf');
    if (haveStories) await fs.copyFile(STORIES, gguf);
  });
  afterEach(() => fs.rm(root, { recursive: true, force: true }));

  async function upload(file: string): Promise<string> {
    await reg.init();
    const data = await fs.readFile(file);
    return (
      await reg.blobs.put(
        sha(data),
        (async function* () {
          yield data;
        })(),
      )
    ).digest;
  }

  withStories('with a real GGUF', () => {
    it('creates from an uploaded GGUF, then lists, shows, copies and deletes', async () => {
      const digest = await upload(gguf);
      const progress: string[] = [];
      await reg.create(
        {
          model: 'tiny',
          files: { 'stories260K.gguf': digest },
          template: '{{ if .Tools }}tools{{ end }}{{ .Prompt }}',
          system: 'You tell stories.',
          parameters: { temperature: 0.5, stop: ['</s>'] },
          messages: [{ role: 'user', content: 'Once?' }],
          license: 'MIT',
        },
        (s) => progress.push(s),
      );
      expect(progress[0]).toBe('parsing GGUF');
      expect(progress).toContain(`using existing layer ${digest}`);
      expect(progress.filter((s) => s.startsWith('creating new layer sha256:'))).toHaveLength(5);
      expect(progress.slice(-2)).toEqual(['writing manifest', 'success']);

      const manifestFile = path.join(modelsDir, 'manifests/registry.ollama.ai/library/tiny/latest');
      const manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8'));
      expect(manifest).toMatchObject({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: { mediaType: 'application/vnd.docker.container.image.v1+json' },
      });
      expect(
        manifest.layers.map((l: { mediaType: string }) =>
          l.mediaType.replace('application/vnd.ollama.image.', ''),
        ),
      ).toEqual(['model', 'template', 'system', 'license', 'params', 'messages']);
      const config = JSON.parse(await fs.readFile(reg.blobs.path(manifest.config.digest), 'utf8'));
      expect(config).toMatchObject({
        model_format: 'gguf',
        model_family: 'llama',
        model_families: ['llama'],
        file_type: 'F32',
        os: 'linux',
        architecture: 'amd64',
        rootfs: { type: 'layers', diff_ids: manifest.layers.map((l: { digest: string }) => l.digest) },
      });

      const [listed] = await reg.list();
      const manifestDigest = sha(await fs.readFile(manifestFile));
      expect(listed).toMatchObject({
        name: 'tiny:latest',
        model: 'tiny:latest',
        digest: manifestDigest.slice(7),
      });
      expect(listed?.details).toMatchObject({ format: 'gguf', family: 'llama', quantization_level: 'F32' });
      expect(listed?.size).toBeGreaterThan((await fs.stat(gguf)).size);

      const r = await reg.resolve('TINY:latest');
      expect(r).toMatchObject({
        name: 'tiny:latest',
        fullName: 'registry.ollama.ai/library/tiny:latest',
        digest: manifestDigest,
        modelDigest: digest,
        modelPath: reg.blobs.path(digest),
        system: 'You tell stories.',
        parameters: { temperature: 0.5, stop: ['</s>'] },
        license: ['MIT'],
        capabilities: ['completion', 'tools'],
      });
      expect(await reg.resolve('tiny')).toBe(r); // cached while the manifest is unchanged

      const show = await reg.show('tiny');
      expect(show.modelfile).toContain(`# FROM tiny:latest\n\nFROM ${reg.blobs.path(digest)}\n`);
      expect(show.modelfile).toContain('PARAMETER stop </s>\nPARAMETER temperature 0.5\n');
      expect(show.parameters).toBe(`${'stop'.padEnd(30)} "</s>"\n${'temperature'.padEnd(30)} 0.5`);
      expect(show).toMatchObject({
        system: 'You tell stories.',
        license: 'MIT',
        messages: [{ role: 'user', content: 'Once?' }],
      });
      expect(show.model_info['general.architecture']).toBe('llama');

      await reg.copy('tiny', 'myns/tiny2:v1');
      expect((await reg.list()).map((m) => m.name).sort()).toEqual(['myns/tiny2:v1', 'tiny:latest']);
      expect((await reg.resolve('myns/tiny2:v1')).digest).toBe(manifestDigest);
      const blobsBefore = await fs.readdir(reg.blobs.dir);

      await reg.delete('myns/tiny2:v1');
      expect(await fs.readdir(reg.blobs.dir)).toEqual(blobsBefore); // shared blobs survive
      expect(existsSync(path.join(modelsDir, 'manifests/registry.ollama.ai/myns'))).toBe(false);

      await reg.delete('tiny');
      expect(await tree(modelsDir)).toEqual([]);
      await expect(reg.resolve('tiny')).rejects.toMatchObject({
        code: 'model_not_found',
        message: "model 'tiny' not found",
      });
      await expect(reg.delete('tiny')).rejects.toMatchObject({ code: 'model_not_found' });
    });

    it('creates from a legacy Modelfile with a FROM path, then inherits from it by name', async () => {
      const progress: string[] = [];
      await reg.create(
        {
          model: 'base',
          modelfile: `FROM ${gguf}\nPARAMETER stop </s>\nPARAMETER top_k 20\nSYSTEM base system`,
        },
        (s) => progress.push(s),
      );
      expect(progress).toContain(`creating new layer ${sha(await fs.readFile(gguf))}`);
      await reg.create(
        { model: 'child', from: 'base', parameters: { top_k: 5 }, system: 'child system' },
        () => {},
      );
      const child = await reg.resolve('child');
      const base = await reg.resolve('base');
      expect(child.modelDigest).toBe(base.modelDigest);
      expect(child.parameters).toEqual({ stop: ['</s>'], top_k: 5 }); // merged per key, as Ollama does
      expect(child.system).toBe('child system');
      expect(child.details.parent_model).toBe('base:latest');

      // Overwriting a model collects the layers only it used.
      const oldSystem = (await reg.manifests.read(
        (await reg.manifests.locate({
          host: 'registry.ollama.ai',
          namespace: 'library',
          model: 'child',
          tag: 'latest',
        }))!.name,
      ))!.manifest.layers.find((l) => l.mediaType.endsWith('.system'))!.digest;
      await reg.create({ model: 'child', from: 'base', system: 'newer' }, () => {});
      expect(await reg.blobs.has(oldSystem)).toBe(false);
      expect((await reg.resolve('child')).system).toBe('newer');
    });

    it('keeps the blobs a create from a model still needs when that model is deleted meanwhile', async () => {
      await reg.create({ model: 'a', modelfile: `FROM ${gguf}\nSYSTEM from a` }, () => {});
      // Force the worst interleaving: 'a' is deleted (and its blobs collected) after 'b' has
      // taken a's layers but before b's manifest exists on disk.
      const write = reg.manifests.write.bind(reg.manifests);
      jest.spyOn(reg.manifests, 'write').mockImplementationOnce(async (name, m) => {
        await reg.delete('a');
        return write(name, m);
      });
      await reg.create({ model: 'b', from: 'a' }, () => {});
      expect((await reg.list()).map((m) => m.name)).toEqual(['b:latest']);
      const b = await reg.resolve('b');
      expect(existsSync(b.modelPath)).toBe(true);
      expect(b.system).toBe('from a');
      await reg.delete('b');
      expect(await tree(modelsDir)).toEqual([]);
    });

    it('rejects bad requests with the problem named', async () => {
      const digest = await upload(gguf);
      await expect(reg.create({ model: 'x', from: 'nope' }, () => {})).rejects.toMatchObject({
        code: 'model_not_found',
        message: "model 'nope' not found",
      });
      await expect(
        reg.create({ model: 'x', files: { 'm.gguf': sha('not uploaded') } }, () => {}),
      ).rejects.toMatchObject({
        code: 'bad_request',
        message: expect.stringContaining("'m.gguf': blob"),
      });
      await expect(
        reg.create({ model: 'x', files: { 'm.gguf': digest }, quantize: 'q7_Z' }, () => {}),
      ).rejects.toMatchObject({ code: 'bad_request', message: expect.stringContaining("'q7_Z'") });
      await expect(
        reg.create({ model: 'x', files: { 'm.gguf': digest }, parameters: { foo: 1 } }, () => {}),
      ).rejects.toMatchObject({
        message: "unknown parameter 'foo'",
      });
      await expect(
        reg.create({ model: '../x', files: { 'm.gguf': digest } }, () => {}),
      ).rejects.toMatchObject({ code: 'bad_request' });
      await expect(reg.create({ model: 'x' }, () => {})).rejects.toMatchObject({
        message: "neither 'from' or 'files' was specified",
      });
      expect(await tree(modelsDir)).toEqual([`blobs/${digest.replace(':', '-')}`]);
    });
  });

  it('leaves nothing behind when the GGUF is corrupt or truncated', async () => {
    const bad = path.join(root, 'bad.gguf');
    if (haveStories)
      await fs.writeFile(bad, (await fs.readFile(gguf)).subarray(0, 4096)); // truncated tensor data
    else await fs.writeFile(bad, Buffer.from('GGUF\x03\x00\x00\x00garbage'));
    const progress: string[] = [];
    await expect(
      reg.create({ model: 'broken', modelfile: `FROM ${bad}\nSYSTEM hi\nPARAMETER temperature 1` }, (s) =>
        progress.push(s),
      ),
    ).rejects.toMatchObject({ code: 'invalid_model_file' });
    expect(progress).not.toContain('writing manifest');
    expect(await tree(modelsDir)).toEqual([]);
    await fs.writeFile(bad, 'not a gguf at all');
    await expect(reg.create({ model: 'broken', modelfile: `FROM ${bad}` }, () => {})).rejects.toMatchObject({
      code: 'invalid_model_file',
    });
    expect(await tree(modelsDir)).toEqual([]);
    expect(await reg.list()).toEqual([]);
  });

  it('reads a models directory laid out by Ollama', async () => {
    const weights = path.join(root, 'w.gguf');
    await buildTinyLlama(weights, { chatTemplate: "{% for m in messages %}{{ m['content'] }}{% endfor %}" });
    const blobs = path.join(modelsDir, 'blobs');
    await fs.mkdir(blobs, { recursive: true });
    const put = async (data: Buffer | string) => {
      const d = sha(data);
      await fs.writeFile(path.join(blobs, d.replace(':', '-')), data);
      return { digest: d, size: Buffer.byteLength(data) };
    };
    const model = await put(await fs.readFile(weights));
    const template = await put('{{ if .Suffix }}<PRE>{{ .Prompt }}<SUF>{{ .Suffix }}{{ end }}<think>');
    const params = await put('{"stop":["\\u003c/s\\u003e"],"num_ctx":8192,"draft_num_predict":3}\n');
    const license = await put('Apache 2.0');
    const config = await put(
      JSON.stringify({
        model_format: 'gguf',
        model_family: 'llama',
        model_families: ['llama'],
        model_type: '7B',
        file_type: 'Q4_0',
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [] },
      }),
    );
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', ...config },
      layers: [
        { mediaType: 'application/vnd.ollama.image.model', ...model },
        { mediaType: 'application/vnd.ollama.image.template', ...template },
        { mediaType: 'application/vnd.ollama.image.license', ...license },
        { mediaType: 'application/vnd.ollama.image.params', ...params },
      ],
    });
    const dir = path.join(modelsDir, 'manifests/registry.ollama.ai/library/Coder');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, '7b'), manifest);

    const [listed] = await reg.list();
    expect(listed).toMatchObject({
      name: 'Coder:7b',
      digest: sha(manifest).slice(7),
      details: { parameter_size: '7B', quantization_level: 'Q4_0' },
    });
    const r = await reg.resolve('coder:7B');
    expect(r.modelPath).toBe(path.join(blobs, model.digest.replace(':', '-')));
    expect(r.parameters).toEqual({ stop: ['</s>'], num_ctx: 8192, draft_num_predict: 3 });
    expect(r.capabilities).toEqual(['completion', 'insert', 'thinking']);
    const show = await reg.show('Coder:7b');
    expect(show.license).toBe('Apache 2.0');
    expect(show.template).toContain('<SUF>');

    // A model built on an Ollama-made one inherits its layers, unknown params included.
    await reg.create({ model: 'derived', from: 'coder:7b', parameters: { temperature: 0 } }, () => {});
    expect((await reg.resolve('derived')).parameters).toEqual({
      stop: ['</s>'],
      num_ctx: 8192,
      draft_num_predict: 3,
      temperature: 0,
    });
    expect((await reg.resolve('derived')).capabilities).toContain('insert');

    // Without a Modelfile TEMPLATE, capabilities come from the GGUF's own chat template.
    await fs.writeFile(
      path.join(dir, '7b'),
      manifest.replace(/,\{"mediaType":"application\/vnd.ollama.image.template"[^}]*\}/, ''),
    );
    expect((await reg.resolve('coder:7b')).capabilities).toEqual(['completion']);
    expect((await reg.show('coder:7b')).template).toContain("m['content']");
  });
});
