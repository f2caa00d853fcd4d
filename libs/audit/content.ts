/**
 * Prompt and response capture. Off unless a team's policy turns it on; captured content goes to
 * `audit_content`, apart from the event rows (so it can expire on its own schedule without touching
 * the chain). Policies are read through `ContentPolicySource`, so identity or quota settings can
 * back them later; `DbContentPolicies` is the built-in store.
 */
import type { DataSource } from 'typeorm';

export interface ContentPolicy {
  /** Capture prompts and responses for this team. Defaults to false. */
  capture: boolean;
  /** Days captured content is kept. Defaults to 30. */
  retentionDays: number;
}

export const DEFAULT_CONTENT_POLICY: ContentPolicy = { capture: false, retentionDays: 30 };

export interface ContentPolicySource {
  policyFor(teamId: string): Promise<ContentPolicy>;
}

type Rows = Record<string, unknown>[];

export class DbContentPolicies implements ContentPolicySource {
  private readonly cache = new Map<string, { policy: ContentPolicy; at: number }>();

  /** `cacheMs`: how long a read policy is reused on the request path. Defaults to 10 s. */
  constructor(
    private readonly ds: DataSource,
    private readonly cacheMs = 10_000,
  ) {}

  async policyFor(teamId: string): Promise<ContentPolicy> {
    const hit = this.cache.get(teamId);
    if (hit && Date.now() - hit.at < this.cacheMs) return hit.policy;
    let rows: Rows;
    try {
      rows = (await this.ds.query(
        `SELECT capture, retention_days FROM audit_content_policies WHERE team_id = $1`,
        [teamId],
      )) as Rows;
    } catch (e) {
      // Database down: keep applying the policy last read (content waits in the buffer like
      // events do); a team never read gets nothing captured rather than a guess.
      if (hit) return hit.policy;
      throw e;
    }
    const [r] = rows;
    const policy = r
      ? { capture: r.capture === true || r.capture === 't', retentionDays: Number(r.retention_days) }
      : DEFAULT_CONTENT_POLICY;
    this.cache.set(teamId, { policy, at: Date.now() });
    return policy;
  }

  async setPolicy(teamId: string, policy: ContentPolicy): Promise<void> {
    if (!Number.isInteger(policy.retentionDays) || policy.retentionDays < 1)
      throw new Error('retentionDays must be a whole number of days, at least 1');
    await this.ds.query(
      `INSERT INTO audit_content_policies (team_id, capture, retention_days, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (team_id) DO UPDATE SET capture = $2, retention_days = $3, updated_at = now()`,
      [teamId, policy.capture, policy.retentionDays],
    );
    this.cache.delete(teamId);
  }
}

export interface CapturedContent {
  eventId: string;
  requestId: string | null;
  teamId: string;
  time: string;
  expiresAt: string;
  prompt: unknown;
  response: unknown;
}

/** Captured content of one event, scoped to a team (undefined when absent or expired). */
export async function readContent(
  ds: DataSource,
  teamId: string,
  eventId: string,
): Promise<CapturedContent | undefined> {
  const [r] = (await ds.query(
    `SELECT * FROM audit_content WHERE team_id = $1 AND event_id = $2 AND expires_at > now()`,
    [teamId, eventId],
  )) as Rows;
  if (!r) return undefined;
  return {
    eventId: String(r.event_id),
    requestId: r.request_id === null || r.request_id === undefined ? null : String(r.request_id),
    teamId: String(r.team_id),
    time: new Date(r.time as string).toISOString(),
    expiresAt: new Date(r.expires_at as string).toISOString(),
    prompt: r.prompt,
    response: r.response,
  };
}

/** Deletes captured content past its expiry; returns how many rows went. */
export async function purgeExpiredContent(ds: DataSource, now = new Date()): Promise<number> {
  const rows = (await ds.query(`DELETE FROM audit_content WHERE expires_at <= $1 RETURNING event_id`, [
    now.toISOString(),
  ])) as Rows;
  return rows.length;
}
