import type { Token } from 'node-llama-cpp';
import { DecodeStream, type DecodeStreamOptions } from './decode-stream';
import type { AddonSampler, InternalSequence } from './llama-internals';

// The stream's state machine alone, on a plain sequence record; the loop and real llama.cpp are in
// decode-loop.int.spec.ts.
function setup(over: Partial<DecodeStreamOptions> = {}, prompt: number[] = [1, 2, 3]) {
  const configs: object[] = [];
  const seq: InternalSequence = {
    _sequenceId: 0,
    _nextTokenIndex: 0,
    _contextTokens: [],
    _resolveSamplerConfig: (options) => ({ ...options }),
  };
  const sampler: AddonSampler = { applyConfig: (c) => configs.push(c), dispose: () => undefined };
  const options: DecodeStreamOptions = {
    sampling: { temperature: 0 },
    maxTokens: 10,
    contextLimit: 100,
    isFinal: (t) => t === 99,
    stopTokens: [],
    ...over,
  };
  const stream = new DecodeStream(seq, prompt as Token[], options, sampler);
  return { seq, stream, configs };
}

const t = (n: number): Token => n as Token;

describe('DecodeStream', () => {
  it('records decoded tokens in the sequence as node-llama-cpp does, and hands sampled ones over only on flush', async () => {
    const { seq, stream } = setup();
    stream.accepted(2);
    expect(stream.pending).toEqual([3]);
    stream.accepted(1);
    stream.sampled(t(7));
    expect(seq._contextTokens).toEqual([1, 2, 3]);
    expect(seq._nextTokenIndex).toBe(3);
    expect(stream.pending).toEqual([7]);

    let got: Token | null | undefined;
    void stream.take().then((token) => (got = token));
    await Promise.resolve();
    expect(got).toBeUndefined();
    stream.flush();
    await new Promise((r) => setImmediate(r));
    expect(got).toBe(7);
  });

  it('ends on a final token, at maxTokens and at the context limit, yielding the last token', async () => {
    const final = setup().stream;
    final.accepted(3);
    final.sampled(t(99));
    final.flush();
    expect(final.closed).toBe(true);
    expect(await final.take()).toBe(99);
    expect(await final.take()).toBeNull();

    const capped = setup({ maxTokens: 2 }).stream;
    capped.accepted(3);
    capped.sampled(t(5));
    expect(capped.closed).toBe(false);
    expect(capped.remainingTokens).toBe(1);
    capped.accepted(1);
    capped.sampled(t(6));
    expect(capped.closed).toBe(true);

    const full = setup({ contextLimit: 4 }).stream;
    full.accepted(3);
    full.sampled(t(5));
    expect(full.closed).toBe(false);
    full.accepted(1);
    full.sampled(t(6));
    expect(full.closed).toBe(true);
  });

  it('reports a failure after the tokens sampled before it; a cancel ends without one', async () => {
    const { stream } = setup();
    stream.accepted(3);
    stream.sampled(t(5));
    stream.fail(new Error('decode failed'));
    stream.flush();
    expect(await stream.take()).toBe(5);
    await expect(stream.take()).rejects.toThrow('decode failed');

    const cancelled = setup().stream;
    cancelled.cancel();
    cancelled.flush();
    expect(await cancelled.take()).toBeNull();
  });

  it('lets its consumer go only once the loop has let go of the sequence', async () => {
    const { stream } = setup();
    let detached = false;
    void stream.detach().then(() => (detached = true));
    expect(stream.closed).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(detached).toBe(false);
    stream.settleDetach();
    await new Promise((r) => setImmediate(r));
    expect(detached).toBe(true);
    await expect(stream.detach()).resolves.toBeUndefined();
  });

  it('is native-eligible only past its prompt, with a stop-token list and a plain penalty window', () => {
    const { stream } = setup();
    expect(stream.nativeEligible()).toBe(false);
    stream.accepted(2);
    expect(stream.nativeEligible()).toBe(true);
    expect(setup({ stopTokens: undefined }, [1]).stream.nativeEligible()).toBe(false);
    expect(setup({ refreshSampler: true }, [1]).stream.nativeEligible()).toBe(false);
    const aborted = new AbortController();
    aborted.abort();
    expect(setup({ signal: aborted.signal }, [1]).stream.nativeEligible()).toBe(false);
  });

  it('configures its sampler once, or before every token with refreshSampler', () => {
    const once = setup();
    once.stream.configureSampler();
    once.stream.configureSampler();
    expect(once.configs).toHaveLength(1);
    const refreshed = setup({ refreshSampler: true });
    refreshed.stream.configureSampler();
    refreshed.stream.configureSampler();
    expect(refreshed.configs).toHaveLength(2);
  });
});
