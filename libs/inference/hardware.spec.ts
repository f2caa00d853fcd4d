import { chooseBatchThreads, chooseThreads, parseGpuChoice, parseThreads } from './hardware';

describe('worker hardware settings', () => {
  it('parses CORRAL_GPU, defaulting to auto', () => {
    expect(parseGpuChoice(undefined)).toBe('auto');
    expect(parseGpuChoice('CUDA')).toBe('cuda');
    expect(parseGpuChoice('false')).toBe('cpu');
    expect(() => parseGpuChoice('rocm')).toThrow(/CORRAL_GPU/);
  });

  it('parses CORRAL_THREADS as a positive integer', () => {
    expect(parseThreads(undefined)).toBeUndefined();
    expect(parseThreads('3')).toBe(3);
    expect(() => parseThreads('0')).toThrow(/CORRAL_THREADS/);
  });

  it('leaves one core to Node on CPU and keeps GPU feeding threads few', () => {
    expect(chooseThreads('cpu', 1)).toBe(1);
    expect(chooseThreads('cpu', 2)).toBe(1);
    expect(chooseThreads('cpu', 16)).toBe(15);
    expect(chooseThreads('cuda', 16)).toBe(4);
    expect(chooseThreads('vulkan', 2)).toBe(1);
  });

  it('gives prompt batches every core on CPU, and the decode threads elsewhere', () => {
    expect(chooseBatchThreads('cpu', 2, 1)).toBe(2);
    expect(chooseBatchThreads('cpu', 16, 15)).toBe(16);
    expect(chooseBatchThreads('cpu', 2, 4)).toBe(4); // never fewer than the decode threads
    expect(chooseBatchThreads('cuda', 16, 4)).toBe(4);
    expect(() => parseThreads('0', 'CORRAL_BATCH_THREADS')).toThrow(/CORRAL_BATCH_THREADS/);
  });
});
