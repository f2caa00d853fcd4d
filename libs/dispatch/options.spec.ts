import { CorralError } from '@corral/common';
import { clampToContext, toSampling, validateOptions } from './options';
import { MAX_NUM_CTX, jsonShapeProblem, promptSizeProblem } from '@corral/worker-protocol';

function refusal(options: unknown): { message: string; param?: string } {
  try {
    validateOptions(options);
  } catch (e) {
    expect(e).toBeInstanceOf(CorralError);
    const err = e as CorralError;
    expect(err.status).toBe(400);
    return { message: err.message, param: err.param };
  }
  throw new Error(`accepted ${JSON.stringify(options)}`);
}

describe('validateOptions', () => {
  it('names the option as the client sent it, with its bounds', () => {
    expect(refusal({ num_predict: -5 })).toEqual({
      message: 'options.num_predict must be between -2 and 2147483647',
      param: 'options.num_predict',
    });
    expect(refusal({ repeat_last_n: 1e9 }).message).toBe(
      `options.repeat_last_n must be between -1 and ${MAX_NUM_CTX}`,
    );
    expect(refusal({ num_ctx: -1 }).message).toBe(`options.num_ctx must be between 1 and ${MAX_NUM_CTX}`);
    expect(refusal({ num_ctx: 0 }).message).toMatch(/^options\.num_ctx must be between 1/);
    expect(refusal({ num_batch: 0 }).message).toMatch(/^options\.num_batch must be between 1 and/);
    expect(refusal({ num_thread: 1e9 }).message).toBe('options.num_thread must be between 0 and 1024');
    expect(refusal({ num_keep: -2 }).message).toMatch(/^options\.num_keep must be between -1/);
    expect(refusal({ top_p: 1.5 }).message).toBe('options.top_p must be between 0 and 1');
    expect(refusal({ temperature: -1 }).message).toMatch(/^options\.temperature must be between 0/);
  });

  it('says what type was expected', () => {
    expect(refusal({ num_ctx: 'big' }).message).toBe('options.num_ctx must be an integer');
    expect(refusal({ num_ctx: 1.5 }).message).toBe('options.num_ctx must be an integer');
    expect(refusal({ top_p: 'NaN' }).message).toBe('options.top_p must be a number');
    expect(refusal({ use_mmap: 1 }).message).toBe('options.use_mmap must be a boolean');
    expect(refusal({ stop: [1] }).message).toBe('options.stop must be a string or a list of strings');
    expect(refusal([]).message).toBe('options must be an object');
  });

  it('bounds stop strings', () => {
    expect(refusal({ stop: Array(33).fill('x') }).message).toBe('options.stop must be at most 32 strings');
    expect(refusal({ stop: ['x'.repeat(1025)] }).message).toMatch(/at most 1024 characters/);
    expect(validateOptions({ stop: 'END' })).toEqual({ stop: ['END'] });
  });

  it('refuses __proto__, constructor and prototype as unknown options', () => {
    // JSON.parse makes "__proto__" an own property, as the body parser does.
    expect(refusal(JSON.parse('{"__proto__": {"num_ctx": 1}}'))).toEqual({
      message: "unknown option '__proto__'",
      param: 'options.__proto__',
    });
    expect(refusal({ constructor: 1 }).message).toBe("unknown option 'constructor'");
    expect(refusal({ prototype: {} }).message).toBe("unknown option 'prototype'");
    expect(refusal({ toString: 1 }).message).toBe("unknown option 'toString'");
  });

  it('accepts in-range values and returns a plain object', () => {
    const o = validateOptions({ num_ctx: 2048, repeat_last_n: -1, seed: -1, num_gpu: 999, top_k: null });
    expect(o).toEqual({ num_ctx: 2048, repeat_last_n: -1, seed: -1, num_gpu: 999 });
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
  });
});

describe('toSampling', () => {
  it('clamps repeat_last_n and num_keep to the context; -1 means all of it', () => {
    expect(toSampling({ repeat_last_n: 200_000, num_keep: 100_000 }, 2048)).toMatchObject({
      repeatLastN: 2048,
      numKeep: 2048,
    });
    expect(toSampling({ repeat_last_n: -1, num_keep: -1 }, 512)).toMatchObject({
      repeatLastN: 512,
      numKeep: 512,
    });
    expect(toSampling({ repeat_last_n: 64 }, 512).repeatLastN).toBe(64);
  });

  it('holds Modelfile values (which skip request validation) to the same bounds', () => {
    const s = toSampling(
      { repeat_last_n: 1e12, num_predict: -9, top_p: 7, stop: Array(50).fill('x'.repeat(5000)) },
      4096,
    );
    expect(s.repeatLastN).toBe(4096);
    expect(s.numPredict).toBe(-2);
    expect(s.topP).toBe(1);
    expect(s.stop).toHaveLength(32);
    expect(s.stop?.[0]).toHaveLength(1024);
  });
});

describe('clampToContext', () => {
  it('cuts num_ctx to the trained length, num_batch to num_ctx and num_thread to its bound', () => {
    expect(
      clampToContext(
        { num_ctx: 1e9, num_batch: 1e9, num_thread: 1e9 },
        { contextLength: 4096, trainedContext: 2048 },
      ),
    ).toEqual({
      numCtx: 2048,
      numBatch: 2048,
      numThread: 1024,
    });
    expect(clampToContext({}, { contextLength: 4096 })).toEqual({
      numCtx: 4096,
      numBatch: undefined,
      numThread: 0,
    });
    expect(clampToContext({ num_ctx: 1e12 }, { contextLength: 4096 }).numCtx).toBe(MAX_NUM_CTX);
  });
});

describe('limits', () => {
  it('measures JSON depth without recursion', () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    expect(jsonShapeProblem(deep)).toBe('is nested more than 64 levels deep');
    expect(jsonShapeProblem({ type: 'object', properties: { a: { type: 'string' } } })).toBeUndefined();
    expect(jsonShapeProblem(Array.from({ length: 30_000 }, () => ({})))).toMatch(/more than 20000 objects/);
  });

  it('refuses a prompt that cannot fit the context', () => {
    expect(promptSizeProblem(64 * 2048, 2048)).toBeUndefined();
    expect(promptSizeProblem(64 * 2048 + 1, 2048)).toMatch(/more than can fit the context of 2048 tokens/);
  });
});
