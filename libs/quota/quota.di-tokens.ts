/** Nest injection tokens of the quota feature. */
export const QUOTA_STORE = Symbol('corral.quota.store');
export const POLICY_NOTIFIER = Symbol('corral.quota.notifier');
export const USAGE_SINK = Symbol('corral.quota.usage-sink');
/** The team an API key belongs to (identity's business): `(keyId) => teamId | undefined`. */
export const KEY_TEAM = Symbol('corral.quota.key-team');
export type KeyTeamLookup = (keyId: string) => Promise<string | undefined>;
