import { StopStringFilter } from './stop-strings';

function run(stops: string[], pieces: string[]): { out: string; stopped: boolean; emitted: string[] } {
  const f = new StopStringFilter(stops);
  const emitted: string[] = [];
  for (const p of pieces) {
    const r = f.push(p);
    emitted.push(r.text);
    if (r.stopped) return { out: emitted.join(''), stopped: true, emitted };
  }
  emitted.push(f.flush());
  return { out: emitted.join(''), stopped: false, emitted };
}

describe('StopStringFilter', () => {
  it('passes text through when there are no stop strings', () => {
    expect(run([], ['a', 'b'])).toMatchObject({ out: 'ab', stopped: false });
  });

  it('cuts exactly before a stop string split across pieces and never emits any of it', () => {
    const r = run(['</end>'], ['hello </', 'en', 'd> tail']);
    expect(r).toMatchObject({ out: 'hello ', stopped: true });
    expect(r.emitted.join('')).not.toContain('<');
  });

  it('holds back a possible prefix and releases it when the text diverges', () => {
    const f = new StopStringFilter(['STOP']);
    expect(f.push('abc ST')).toEqual({ text: 'abc ', stopped: false });
    expect(f.push('ART')).toEqual({ text: 'START', stopped: false });
  });

  it('stops at the earliest of several stop strings', () => {
    expect(run(['world', 'lo w'], ['hello world'])).toMatchObject({ out: 'hel', stopped: true });
  });

  it('releases a held prefix at the end of generation', () => {
    expect(run(['STOP'], ['the end ST'])).toMatchObject({ out: 'the end ST', stopped: false });
  });

  it('handles overlapping prefixes (stop "aab" after "aaab")', () => {
    expect(run(['aab'], ['a', 'a', 'a', 'b', 'c'])).toMatchObject({ out: 'a', stopped: true });
  });
});
