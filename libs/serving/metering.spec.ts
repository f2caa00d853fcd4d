/** The pieces of metering outside the request path: the team a caller is metered against and the text counted. */
import { callerOf, promptText } from './metering';

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
