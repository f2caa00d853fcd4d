import { expiryFrom, renderKeys, type KeyView } from './keys';

const key = (over: Partial<KeyView>): KeyView => ({
  id: 'abcdefghijkl',
  prefix: 'crl_abcdefghijkl',
  team_id: 'team_1',
  user_id: null,
  name: 'app',
  scopes: ['inference', 'models:read'],
  models: null,
  expires_at: null,
  last_used_at: null,
  revoked_at: null,
  created_at: '2026-01-01T00:00:00.000Z',
  ...over,
});

describe('keys verbs', () => {
  it('turns --expires durations and times into RFC 3339', () => {
    expect(expiryFrom('1h', Date.parse('2026-01-01T00:00:00Z'))).toBe('2026-01-01T01:00:00.000Z');
    expect(expiryFrom('2027-03-04T05:06:07Z')).toBe('2027-03-04T05:06:07.000Z');
    expect(() => expiryFrom('soonish')).toThrow(/invalid --expires 'soonish'/);
  });

  it('lists keys with their status, never a secret', () => {
    const now = new Date('2026-06-01T00:00:00Z');
    const out = renderKeys(
      [
        key({}),
        key({ id: 'revokedkey01', revoked_at: '2026-02-01T00:00:00Z' }),
        key({ id: 'expiredkey01', expires_at: '2026-05-01T00:00:00Z', models: ['tiny:latest'] }),
      ],
      now,
    );
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+TEAM\s+SCOPES\s+MODELS\s+EXPIRES\s+LAST USED\s+STATUS$/);
    expect(lines[1]).toMatch(/abcdefghijkl .*inference,models:read\s+all\s+never\s+never\s+active$/);
    expect(lines[2]).toMatch(/revoked$/);
    expect(lines[3]).toMatch(/tiny:latest\s+2026-05-01T00:00:00Z .*expired$/);
    expect(out).not.toMatch(/crl_/);
  });
});
