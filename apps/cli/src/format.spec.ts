import { renderList, renderPs } from './commands/models';
import { renderShowInfo } from './commands/show';
import {
  goDuration,
  humanBytes,
  humanNumber,
  humanTime,
  processorColumn,
  renderTable,
  verboseStats,
} from './format';
import { renderBar } from './progress';
import { WordWrapper } from './wrap';

const NOW = new Date('2025-06-01T12:00:00Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

describe('humanBytes', () => {
  it.each([
    [0, '0 B'],
    [999, '999 B'],
    [1000, '1 KB'],
    [1_234_567, '1.2 MB'],
    [9_950_000, '9.9 MB'],
    [27_000_000_000, '27 GB'],
    [4_661_224_676, '4.7 GB'],
    [2_000_000_000_000, '2 TB'],
  ])('%d bytes → %s', (n, s) => expect(humanBytes(n)).toBe(s));
});

describe('humanNumber', () => {
  it.each([
    [8_000_000_000, '8B'],
    [7_241_732_096, '7.2B'],
    [494_032_768, '494.03M'],
    [260_032, '260K'],
    [512, '512'],
  ])('%d → %s', (n, s) => expect(humanNumber(n)).toBe(s));
});

describe('humanTime', () => {
  it.each([
    [ago(500), 'Less than a second ago'],
    [ago(1000), '1 second ago'],
    [ago(42_000), '42 seconds ago'],
    [ago(90_000), 'About a minute ago'],
    [ago(2 * 60_000 + 5000), '2 minutes ago'],
    [ago(3_600_000), 'About an hour ago'],
    [ago(5 * 3_600_000), '5 hours ago'],
    [ago(3 * 86_400_000), '3 days ago'],
    [ago(21 * 86_400_000), '3 weeks ago'],
    [ago(90 * 86_400_000), '3 months ago'],
    [ago(800 * 86_400_000), '2 years ago'],
    [new Date(NOW.getTime() + 4 * 60_000 + 30_000).toISOString(), '4 minutes from now'],
    ['2318-01-01T00:00:00Z', 'Forever'],
  ])('%s → %s', (t, s) => expect(humanTime(t, 'Never', NOW)).toBe(s));

  it('prints the zero value for a missing or Go-zero time', () => {
    expect(humanTime(undefined, 'Never', NOW)).toBe('Never');
    expect(humanTime('0001-01-01T00:00:00Z', 'Never', NOW)).toBe('Never');
  });
});

describe('processorColumn', () => {
  it.each([
    [1000, 0, '100% CPU'],
    [1000, 1000, '100% GPU'],
    [1000, 520, '48%/52% CPU/GPU'],
    [1000, 2000, 'Unknown'],
  ])('size %d, vram %d → %s', (size, vram, s) => expect(processorColumn(size, vram)).toBe(s));
});

describe('goDuration (Go time.Duration.String)', () => {
  it.each([
    [0, '0s'],
    [850, '850ns'],
    [12_500, '12.5µs'],
    [345_678_912, '345.678912ms'],
    [1_500_000_000, '1.5s'],
    [2_026_000_000, '2.026s'],
    [90_000_000_000, '1m30s'],
    [3_600_000_000_000, '1h0m0s'],
    [3_723_250_000_000, '1h2m3.25s'],
  ])('%d ns → %s', (ns, s) => expect(goDuration(ns)).toBe(s));
});

describe('verboseStats', () => {
  it('prints Ollama’s stats block from the final chunk', () => {
    expect(
      verboseStats({
        total_duration: 2_026_000_000,
        load_duration: 12_500_000,
        prompt_eval_count: 26,
        prompt_eval_duration: 130_000_000,
        eval_count: 298,
        eval_duration: 1_862_500_000,
      }),
    ).toBe(
      [
        'total duration:       2.026s',
        'load duration:        12.5ms',
        'prompt eval count:    26 token(s)',
        'prompt eval duration: 130ms',
        'prompt eval rate:     200.00 tokens/s',
        'eval count:           298 token(s)',
        'eval duration:        1.8625s',
        'eval rate:            160.00 tokens/s',
        '',
      ].join('\n'),
    );
  });

  it('leaves out counters the server did not send', () => {
    expect(verboseStats({ total_duration: 1_000_000_000, eval_count: 3 })).toBe(
      'total duration:       1s\neval count:           3 token(s)\n',
    );
  });
});

describe('tables', () => {
  it('pads columns with four spaces and trims the line ends', () => {
    expect(
      renderTable([
        ['NAME', 'ID'],
        ['a-long-name', 'x'],
      ]),
    ).toBe('NAME           ID\na-long-name    x\n');
  });

  it('list: NAME ID SIZE MODIFIED, ID = 12 hex of the digest, filtered by prefix', () => {
    const models = [
      {
        name: 'tiny:latest',
        model: 'tiny:latest',
        digest: 'sha256:' + 'ab12'.repeat(16),
        size: 1_234_567,
        modified_at: ago(120_000),
      },
      {
        name: 'other:7b',
        model: 'other:7b',
        digest: 'ff'.repeat(32),
        size: 4_700_000_000,
        modified_at: ago(3 * 86_400_000),
      },
    ];
    expect(renderList(models, undefined, NOW)).toBe(
      [
        'NAME           ID              SIZE      MODIFIED',
        'tiny:latest    ab12ab12ab12    1.2 MB    2 minutes ago',
        'other:7b       ffffffffffff    4.7 GB    3 days ago',
        '',
      ].join('\n'),
    );
    expect(renderList(models, 'TI', NOW).split('\n')).toHaveLength(3);
  });

  it('ps: PROCESSOR from size_vram, CONTEXT, UNTIL (Stopping... once expired)', () => {
    const base = { model: 'm', digest: 'cd'.repeat(32), size: 1000 };
    const out = renderPs(
      [
        {
          ...base,
          name: 'cpu:latest',
          size_vram: 0,
          context_length: 4096,
          expires_at: new Date(NOW.getTime() + 299_000).toISOString(),
        },
        { ...base, name: 'split:latest', size_vram: 520, context_length: 8192, expires_at: ago(1000) },
      ],
      undefined,
      NOW,
    );
    expect(out).toBe(
      [
        'NAME            ID              SIZE    PROCESSOR          CONTEXT    UNTIL',
        'cpu:latest      cdcdcdcdcdcd    1 KB    100% CPU           4096       4 minutes from now',
        'split:latest    cdcdcdcdcdcd    1 KB    48%/52% CPU/GPU    8192       Stopping...',
        '',
      ].join('\n'),
    );
  });
});

describe('show', () => {
  it('renders the Model, Capabilities, Parameters, System and License sections like Ollama', () => {
    const out = renderShowInfo({
      details: { family: 'llama', parameter_size: '8.0B', quantization_level: 'Q4_K_M' },
      model_info: {
        'general.architecture': 'llama',
        'general.parameter_count': 8_030_261_248,
        'llama.context_length': 131072,
        'llama.embedding_length': 4096,
      },
      capabilities: ['completion', 'tools'],
      parameters: 'stop                           "<|eot_id|>"\ntemperature                    0.5',
      system: 'You are terse.\nVery terse.\nThird line not shown.',
      license: 'MIT License\n\nCopyright (c) 2025\nPermission is hereby granted',
    });
    expect(out).toBe(
      [
        '  Model',
        '    architecture        llama',
        '    parameters          8.0B',
        '    context length      131072',
        '    embedding length    4096',
        '    quantization        Q4_K_M',
        '',
        '  Capabilities',
        '    completion',
        '    tools',
        '',
        '  Parameters',
        '    stop           "<|eot_id|>"',
        '    temperature    0.5',
        '',
        '  System',
        '    You are terse.',
        '    Very terse.',
        '',
        '  License',
        '    MIT License',
        '    Copyright (c) 2025',
        '',
        '',
      ].join('\n'),
    );
  });

  it('falls back to details without model_info, and adds Metadata with -v', () => {
    const out = renderShowInfo(
      {
        details: { family: 'bert', parameter_size: '', quantization_level: 'F16' },
        model_info: {
          'general.architecture': 'bert',
          'general.parameter_count': 22_713_216,
          'tokenizer.ggml.tokens': ['a', 'b', 'c', 'd', 'e', 'f'],
        },
      },
      true,
    );
    expect(out).toContain('    parameters      22.71M\n');
    expect(out).toContain('  Metadata\n');
    expect(out).toContain('    tokenizer.ggml.tokens      [a b c d e ...+1 more]\n');
    expect(
      renderShowInfo({ details: { family: 'qwen2', parameter_size: '494M', quantization_level: 'Q8_0' } }),
    ).toBe('  Model\n    architecture    qwen2\n    parameters      494M\n    quantization    Q8_0\n\n');
  });
});

describe('progress bar and word wrap', () => {
  it('draws a bar with percent and sizes', () => {
    expect(renderBar('hashing tiny.gguf', 2_000_000_000, 1_000_000_000, 70)).toBe(
      `hashing tiny.gguf  50% ▕${'█'.repeat(16)}${' '.repeat(17)}▏ 1 GB/2 GB`,
    );
  });

  it('moves a word that crosses the margin to the next line', () => {
    const w = new WordWrapper(20);
    const out = w.push('the quick brown') + w.push('ish fox');
    // 15 columns usable: "brownish" crosses it, so "brown" is erased (cursor back 5, clear to the
    // end of the line) and the word goes on below.
    expect(out).toBe('the quick brown\x1b[5D\x1b[K\nbrownish fox');
    // A space at the margin is simply a line break.
    expect(new WordWrapper(20).push('the quick brown fox')).toBe('the quick brown\nfox');
    expect(new WordWrapper(0).push('no wrap at all')).toBe('no wrap at all');
  });
});
