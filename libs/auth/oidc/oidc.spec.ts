/** The pure parts of sign-on: config validation, the group map's rules, the sealed login cookie. */
import { loadConfig } from '@corral/config';
import { desiredRoles, groupsFromClaim, nextGlobalRole } from './group-sync';
import { StateSealer, safeReturnTo, type LoginTransaction } from './state-cookie';

const env = (extra: Record<string, string>) => ({
  CORRAL_HOME: '/tmp/x',
  CORRAL_OIDC_ISSUER: 'https://sso.example.com/realms/corp',
  CORRAL_OIDC_CLIENT_ID: 'corral',
  ...extra,
});

describe('OIDC configuration', () => {
  it('is off without an issuer and has documented defaults with one', () => {
    expect(loadConfig({ CORRAL_HOME: '/tmp/x' }).oidc).toBeUndefined();
    expect(loadConfig(env({})).oidc).toEqual({
      issuer: 'https://sso.example.com/realms/corp',
      clientId: 'corral',
      clientSecret: undefined,
      redirectUrl: undefined,
      scopes: ['openid', 'email', 'profile'],
      groupsClaim: 'groups',
      groupMap: {},
    });
  });

  it('normalises the group map to lists of rules', () => {
    const map = { a: { admin: true }, b: [{ team: 'ML', role: 'owner' }, { auditor: true }] };
    expect(loadConfig(env({ CORRAL_OIDC_GROUP_MAP: JSON.stringify(map) })).oidc?.groupMap).toEqual({
      a: [{ admin: true }],
      b: [{ team: 'ML', role: 'owner' }, { auditor: true }],
    });
  });

  it('refuses bad values at boot, naming the key', () => {
    expect(() => loadConfig(env({ CORRAL_OIDC_GROUP_MAP: '{"a":{"team":"ML","role":"boss"}}' }))).toThrow(
      /CORRAL_OIDC_GROUP_MAP: group "a"/,
    );
    expect(() => loadConfig(env({ CORRAL_OIDC_GROUP_MAP: '{not json' }))).toThrow(
      /CORRAL_OIDC_GROUP_MAP: must be JSON/,
    );
    expect(() => loadConfig(env({ CORRAL_OIDC_GROUP_MAP: '{"a":{"admin":false}}' }))).toThrow(
      /CORRAL_OIDC_GROUP_MAP/,
    );
    expect(() => loadConfig(env({ CORRAL_OIDC_ISSUER: 'sso.example.com' }))).toThrow(/CORRAL_OIDC_ISSUER/);
    expect(() => loadConfig(env({ CORRAL_OIDC_CLIENT_ID: '' }))).toThrow(/CORRAL_OIDC_CLIENT_ID: required/);
    expect(() => loadConfig(env({ CORRAL_OIDC_SCOPES: 'email profile' }))).toThrow(/must include "openid"/);
  });
});

describe('group map', () => {
  const map = {
    admins: [{ admin: true as const }],
    leads: [{ team: 'ML', role: 'owner' as const }, { auditor: true as const }],
    readers: [{ team: 'ml', role: 'viewer' as const }],
  };

  it('grants the highest role any group grants, per team and globally', () => {
    const d = desiredRoles(map, ['readers', 'leads', 'other']);
    expect(d.globalRole).toBe('auditor');
    expect([...d.teams.values()]).toEqual([{ name: 'ML', role: 'owner' }]);
    expect(desiredRoles(map, ['readers', 'admins', 'leads']).globalRole).toBe('admin');
    expect([...desiredRoles(map, []).teams.values()]).toEqual([{ name: 'ML', role: null }]);
  });

  it('removes only global roles the map governs', () => {
    const none = desiredRoles(map, []);
    expect(nextGlobalRole('admin', none)).toBeNull();
    expect(nextGlobalRole('auditor', none)).toBeNull();
    const onlyAdmins = desiredRoles({ admins: [{ admin: true }] }, []);
    expect(nextGlobalRole('auditor', onlyAdmins)).toBe('auditor');
    expect(nextGlobalRole('auditor', desiredRoles({ admins: [{ admin: true }] }, ['admins']))).toBe('admin');
  });

  it('reads the claim as a list or a single group', () => {
    expect(groupsFromClaim(['a', 1, 'b'])).toEqual(['a', 'b']);
    expect(groupsFromClaim('a')).toEqual(['a']);
    expect(groupsFromClaim(undefined)).toEqual([]);
  });
});

describe('login transaction cookie', () => {
  const tx: LoginTransaction = {
    state: 's',
    nonce: 'n',
    codeVerifier: 'v',
    returnTo: '/x',
    redirectUri: 'https://corral.example.com/auth/oidc/callback',
    expiresAt: Date.now() + 60_000,
  };

  it('opens what it sealed, on another replica with the same secret, and nothing else', () => {
    const sealed = new StateSealer('secret').seal(tx);
    expect(sealed).not.toContain('/x');
    expect(new StateSealer('secret').open(sealed)).toEqual(tx);
    expect(new StateSealer('other').open(sealed)).toBeUndefined();
    const flipped = Buffer.from(sealed, 'base64url');
    flipped[flipped.length - 1]! ^= 1;
    expect(new StateSealer('secret').open(flipped.toString('base64url'))).toBeUndefined();
    expect(new StateSealer('secret').open('garbage')).toBeUndefined();
    const old = new StateSealer('secret').seal({ ...tx, expiresAt: Date.now() - 1 });
    expect(new StateSealer('secret').open(old)).toBeUndefined();
  });

  it('accepts only same-origin relative paths as the landing page', () => {
    expect(safeReturnTo('/console/keys?team=a')).toBe('/console/keys?team=a');
    for (const bad of [
      '//evil.example',
      '/\\evil.example',
      'https://evil.example',
      'console',
      '/a\nb',
      '/é',
      7,
    ])
      expect(safeReturnTo(bad)).toBe('/');
  });
});
