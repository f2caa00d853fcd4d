import type { Query } from './sql';

/** One row of `model_owners`: who owns a model name. */
export interface ModelOwner {
  /** Normalized full name (`registry.ollama.ai/library/tiny:latest`). */
  nameKey: string;
  /** The owning team; null for a shared model. */
  teamId: string | null;
  /** The user (or, for a key without a user, the key id) that created the name. */
  createdBy: string | null;
  createdAt: Date;
}

function ownerFromRow(r: Record<string, unknown>): ModelOwner {
  return {
    nameKey: String(r['name_key']),
    teamId: (r['team_id'] as string | null) ?? null,
    createdBy: (r['created_by'] as string | null) ?? null,
    createdAt: new Date(r['created_at'] as string | Date),
  };
}

/** Model names and their owners. Names are normalized by the caller (`normalizeModel`). */
export class ModelOwnersRepository {
  constructor(private readonly q: Query) {}

  async get(nameKey: string): Promise<ModelOwner | undefined> {
    const [row] = await this.q(`SELECT * FROM model_owners WHERE name_key = $1`, [nameKey]);
    return row ? ownerFromRow(row) : undefined;
  }

  /**
   * Records the owner of a name nobody owns yet. False when a row already exists (another request
   * claimed it first): the caller then decides again with that row.
   */
  async claim(nameKey: string, teamId: string | null, createdBy: string | null): Promise<boolean> {
    const rows = await this.q(
      `INSERT INTO model_owners (name_key, team_id, created_by) VALUES ($1, $2, $3)
       ON CONFLICT (name_key) DO NOTHING RETURNING name_key`,
      [nameKey, teamId, createdBy],
    );
    return rows.length > 0;
  }

  async release(nameKey: string): Promise<void> {
    await this.q(`DELETE FROM model_owners WHERE name_key = $1`, [nameKey]);
  }

  /** Names owned by some team other than `teamIds`: what such a caller must not see. */
  async ownedOutside(teamIds: readonly string[]): Promise<string[]> {
    const rows = await this.q(
      `SELECT name_key FROM model_owners WHERE team_id IS NOT NULL AND NOT (team_id = ANY($1::text[]))`,
      [teamIds],
    );
    return rows.map((r) => String(r['name_key']));
  }
}
