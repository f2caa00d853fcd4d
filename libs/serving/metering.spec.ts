/**
 * The pieces of metering that exactness rests on: the byte bound used while every sequence is busy
 * never counts fewer tokens than the model's tokenizer (so a reservation made with it is never too
 * small), and the team a caller is metered against.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Llama } from 'node-llama-cpp';
import { buildScriptedModel } from '@corral/registry';
import { loadNodeLlamaCpp } from '../inference/llama-module';
import { callerOf, promptText, tokenBound } from './metering';

jest.setTimeout(120_000);

const SHARED = resolve(__dirname, '../../../shared/models');
const TEXTS = [
  '',
  'a',
  ' leading space',
  'Once upon a time, Lily saw a café ✓ and 世界 🙂 there.',
  '<s></s><|im_start|>user\nhi<|im_end|>[INST] x [/INST]',
  '\n\n\t  \u00a0 multiple   spaces\r\n',
  'x'.repeat(500),
  Array.from({ length: 200 }, (_, i) => String.fromCodePoint(0x4e00 + ((i * 7919) % 20000))).join(''),
];

describe('tokenBound', () => {
  let llama: Llama;
  const dir = mkdtempSync(join(tmpdir(), 'corral-bound-'));
  const models: string[] = [];
  beforeAll(async () => {
    const scripted = join(dir, 'scripted.gguf');
    await buildScriptedModel(scripted, { script: ['Hello', '▁world'], name: 'bound' });
    models.push(scripted);
    for (const f of ['stories260K.gguf', 'llama-2-tiny-random.gguf']) {
      const p = join(SHARED, f);
      if (existsSync(p)) models.push(p);
      else console.log(`${p} not found: tokenBound is checked on the generated model only`);
    }
    const { getLlama } = await loadNodeLlamaCpp();
    llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, maxThreads: 1 });
  });
  afterAll(async () => {
    await llama?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is never below the model tokenizer's count plus the BOS the worker adds", async () => {
    for (const path of models) {
      const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
      for (const text of TEXTS) {
        const exact = model.tokenize(text, true).length + 1;
        expect({ path, text, ok: tokenBound(text) >= exact }).toEqual({ path, text, ok: true });
      }
      await model.dispose();
    }
  });
});

describe('promptText', () => {
  it('counts a rendered prompt as is (plus its BOS) and a chat by its contents plus template allowance', () => {
    expect(promptText({ kind: 'text', text: 'hi', addBos: true })).toEqual({ text: 'hi', extra: 1 });
    const chat = promptText({
      kind: 'chat',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
      ],
    });
    expect(chat).toEqual({ text: 'be brief\nhi', extra: 24 });
  });
});

describe('callerOf', () => {
  const base = { userId: 'u1', teamRoles: {} };
  it('meters a key against its team, a one-team session against that team, others as users only', () => {
    expect(callerOf({ ...base, kind: 'key', keyId: 'k1', teamId: 't1' })).toEqual({
      teamId: 't1',
      keyId: 'k1',
      userId: 'u1',
    });
    expect(callerOf({ ...base, kind: 'session', teamId: null, teamRoles: { t2: 'member' } })).toEqual({
      teamId: 't2',
      keyId: null,
      userId: 'u1',
    });
    expect(
      callerOf({ ...base, kind: 'session', teamId: null, teamRoles: { t2: 'member', t3: 'owner' } }).teamId,
    ).toBeNull();
    expect(callerOf(undefined)).toEqual({ teamId: null, keyId: null, userId: null });
  });
});
