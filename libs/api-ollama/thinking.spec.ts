import { ThinkingSplitter } from './thinking';

function run(pieces: string[]) {
  const s = new ThinkingSplitter();
  let thinking = '';
  let content = '';
  for (const p of [...pieces.map((x) => s.push(x)), s.flush()]) {
    thinking += p.thinking;
    content += p.content;
  }
  return { thinking, content };
}

describe('ThinkingSplitter', () => {
  it('splits a think block streamed in awkward pieces', () => {
    expect(run(['<th', 'ink>\nhmm, 2+2', ' is 4</thi', 'nk>\n\nIt is 4.'])).toEqual({
      thinking: 'hmm, 2+2 is 4',
      content: 'It is 4.',
    });
  });
  it('passes plain answers through untouched', () => {
    expect(run(['The <b>answer</b>', ' is 4'])).toEqual({ thinking: '', content: 'The <b>answer</b> is 4' });
  });
});
