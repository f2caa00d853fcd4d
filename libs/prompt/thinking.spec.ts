import { ThinkingSplitter, splitThinking } from './thinking';

describe('splitThinking', () => {
  it('separates a leading <think> block from the answer', () => {
    expect(splitThinking('<think>\nThe user greets me.\n</think>\n\nHello!')).toEqual({
      thinking: 'The user greets me.',
      content: 'Hello!',
    });
  });

  it('leaves text without a leading block as content, even if it mentions the tag later', () => {
    expect(splitThinking('Answer: use <think> tags.')).toEqual({ content: 'Answer: use <think> tags.' });
  });

  it('treats an unterminated block as all thinking (generation stopped mid-thought)', () => {
    expect(splitThinking('<think>still going')).toEqual({ thinking: 'still going', content: '' });
  });

  it('handles output whose <think> was opened by the prompt', () => {
    expect(splitThinking('reasoning</think>answer', { openedInPrompt: true })).toEqual({
      thinking: 'reasoning',
      content: 'answer',
    });
    expect(splitThinking('reasoning</think>answer')).toEqual({ content: 'reasoning</think>answer' });
  });

  it('drops an empty thinking block', () => {
    expect(splitThinking('<think>\n\n</think>\n\nHi')).toEqual({ content: 'Hi' });
  });
});

function stream(pieces: string[]) {
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
    expect(stream(['<th', 'ink>\nhmm, 2+2', ' is 4</thi', 'nk>\n\nIt is 4.'])).toEqual({
      thinking: 'hmm, 2+2 is 4',
      content: 'It is 4.',
    });
  });
  it('passes plain answers through untouched', () => {
    expect(stream(['The <b>answer</b>', ' is 4'])).toEqual({
      thinking: '',
      content: 'The <b>answer</b> is 4',
    });
  });
});
