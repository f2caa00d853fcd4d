/**
 * Importing a Hugging Face checkpoint as a user does it: `corral create NAME -f Modelfile
 * --quantize q4_K_M` with `FROM ./hf-dir` (the CLI uploads every file as a blob and the server
 * converts and quantizes), then the model answers over /api/chat.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTinyHf, type TinyHfFamily } from '@corral/registry';
import { postJson, runCli, startCorral, type CorralProcess } from '@corral/testing';

jest.setTimeout(300_000);

let corral: CorralProcess;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'corral-convert-e2e-'));
  corral = await startCorral();
  env = { CORRAL_HOST: corral.url, CORRAL_HOME: corral.home };
});
afterAll(async () => {
  await corral?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it.each<[TinyHfFamily, string]>([
  ['llama', 'tiny-llama'],
  ['qwen2', 'tiny-qwen2'],
])('%s checkpoint: corral create --quantize q4_K_M, then /api/chat answers', async (family, name) => {
  await buildTinyHf(join(dir, `${family}-hf`), { family, dtype: 'BF16' });
  const modelfile = join(dir, `Modelfile.${family}`);
  writeFileSync(modelfile, `FROM ./${family}-hf\nPARAMETER num_predict 8\n`);

  const created = await runCli(['create', name, '-f', modelfile, '--quantize', 'q4_K_M'], env);
  const out = created.stdout + created.stderr;
  expect(out).toMatch(/converting model/);
  expect(out).toMatch(/quantizing BF16 model to Q4_K_M/);
  expect(out).toMatch(/success/);
  expect(created.code).toBe(0);

  const show = await postJson(`${corral.url}/api/show`, { model: name });
  expect(show.status).toBe(200);
  expect(show.json).toMatchObject({
    details: { format: 'gguf', family, quantization_level: 'Q4_K_M' },
  });

  const chat = await postJson(`${corral.url}/api/chat`, {
    model: name,
    messages: [{ role: 'user', content: 'Once upon a time' }],
    stream: false,
    options: { temperature: 0 },
  });
  expect(chat.status).toBe(200);
  expect(chat.json).toMatchObject({
    model: `${name}:latest`,
    done: true,
    message: { role: 'assistant', content: expect.any(String) },
  });
  expect((chat.json as { eval_count: number }).eval_count).toBeGreaterThan(0);
});

it('refuses a checkpoint of an unsupported architecture, naming it', async () => {
  const hf = join(dir, 'mamba-hf');
  const ck = await buildTinyHf(hf, { family: 'llama' });
  writeFileSync(
    join(hf, 'config.json'),
    JSON.stringify({ ...ck.config, architectures: ['MambaForCausalLM'] }),
  );
  writeFileSync(join(dir, 'Modelfile.mamba'), 'FROM ./mamba-hf\n');
  const created = await runCli(['create', 'mamba', '-f', join(dir, 'Modelfile.mamba')], env);
  expect(created.code).not.toBe(0);
  expect(created.stdout + created.stderr).toMatch(/architecture MambaForCausalLM is not supported/);
});
