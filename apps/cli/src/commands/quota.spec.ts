import { renderQuota, renderUsage, usageQuery } from './quota';

describe('corral quota / usage rendering', () => {
  it('shows limits, unlimited ones and current use', () => {
    const text = renderQuota({
      requestsPerMinute: 600,
      tokensPerMinute: null,
      dailyTokens: 5000,
      allowedModels: ['llama3', 'tiny'],
      weight: 2,
      usage: { requests: 3.4, tokens: 120, dailyTokens: 800 },
    });
    expect(text).toMatch(/REQUESTS\/MIN\s+600\s+3\n/);
    expect(text).toMatch(/TOKENS\/MIN\s+unlimited\s+120\n/);
    expect(text).toMatch(/DAILY TOKENS\s+5000\s+800\n/);
    expect(text).toMatch(/MODELS\s+llama3,tiny/);
    expect(text).toMatch(/WEIGHT\s+2/);
  });

  it('defaults the usage range to the last 30 days up to the next hour', () => {
    const q = new URLSearchParams(usageQuery({ groupBy: 'team' }, new Date('2026-11-26T13:20:00Z')).slice(1));
    expect(q.get('to')).toBe('2026-11-26T14:00:00.000Z');
    expect(q.get('from')).toBe('2026-10-27T14:00:00.000Z');
    expect(q.get('groupBy')).toBe('team');
  });

  it('prints usage as a table and as CSV that a spreadsheet cannot execute', () => {
    const rows = [
      {
        period: '2026-11-26T00:00:00Z',
        model: '=cmd()',
        requests: 2,
        errors: 0,
        promptTokens: 10,
        completionTokens: 5,
        totalTokens: 15,
      },
    ];
    expect(renderUsage(rows, ['model'], 'day')).toMatch(
      /^PERIOD\s+MODEL\s+REQUESTS.*\n2026-11-26T00:00Z\s+=cmd\(\)\s+2\s+0\s+10\s+5\s+15/,
    );
  });
});
