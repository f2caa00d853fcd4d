/**
 * Model ownership (docs/models.md, "Who owns a model"). The models directory is one namespace, so
 * the database says who owns each name: a team (its models are invisible to other teams), or
 * nobody (shared: every team may use it, only global admins may replace or delete it). A name on
 * disk without a row is shared; a team's first create of a free name makes it the team's.
 *
 * The decisions live here; `ModelOwnershipGuard` applies them to every model route.
 */
import type { FastifyRequest } from 'fastify';
import { CorralError } from '@corral/common';
import { parseModelName, type ModelRegistry } from '@corral/registry';
import { displayModel, normalizeModel } from './model-access';
import { isGlobalAdmin, type Principal } from './principal';
import type { ModelOwner, ModelOwnersRepository, TeamsRepository } from './repositories';

/** The header a global admin (or a console user in several teams) names the owning team with. */
export const TEAM_HEADER = 'x-corral-team';

const HIDDEN = Symbol('corral.models.hidden');

/** Names (normalized) the caller must not see in listings; set by the guard on listing routes. */
export function hiddenModelsOf(req: FastifyRequest): ReadonlySet<string> | undefined {
  return (req as unknown as Record<symbol, ReadonlySet<string> | undefined>)[HIDDEN];
}

export function setHiddenModels(req: FastifyRequest, hidden: ReadonlySet<string>): void {
  (req as unknown as Record<symbol, ReadonlySet<string>>)[HIDDEN] = hidden;
}

/** Teams whose models the caller may use: a key's own team, a session user's teams. */
export function callerTeams(p: Principal): string[] {
  if (p.kind === 'key') return p.teamId ? [p.teamId] : [];
  return Object.keys(p.teamRoles);
}

/** Normalized name, or undefined for an invalid one (the route itself answers 400/404). */
function keyOf(name: string): string | undefined {
  try {
    return normalizeModel(name);
  } catch {
    return undefined;
  }
}

/** How "no such model" reads in the caller's dialect, so a hidden model looks absent. */
export type NotFound = (name: string) => CorralError;

export const ollamaNotFound: NotFound = (name) =>
  new CorralError('model_not_found', `model '${name}' not found`, 'model');

export const openAiNotFound: NotFound = (name) =>
  new CorralError('model_not_found', `The model '${name}' does not exist`, 'model');

/** What a write may do with a name, and what the audit log should say about its owner. */
export interface WriteDecision {
  /**
   * The owner: a team id, or null for a shared name (for a new name, the owner just recorded);
   * undefined for a name that neither exists nor was claimed (a delete of nothing: the route 404s).
   */
  owner: string | null | undefined;
  /** True when this request recorded the owner row (a new name). */
  claimed: boolean;
}

export class ModelOwnership {
  constructor(
    private readonly owners: ModelOwnersRepository,
    private readonly teams: TeamsRepository,
    private readonly registry: ModelRegistry,
  ) {}

  /** Throws `notFound` for a model owned by a team the caller is not in (global admins see all). */
  async assertVisible(p: Principal, name: string, notFound: NotFound): Promise<void> {
    if (isGlobalAdmin(p)) return;
    const key = keyOf(name);
    if (!key) return;
    const row = await this.owners.get(key);
    if (row?.teamId != null && !callerTeams(p).includes(row.teamId)) throw notFound(name);
  }

  async hiddenFor(p: Principal): Promise<ReadonlySet<string>> {
    if (isGlobalAdmin(p)) return new Set();
    return new Set(await this.owners.ownedOutside(callerTeams(p)));
  }

  /**
   * May the caller create or replace `name` (create, copy destination, pull, a pushed manifest)?
   * Claims a free name for the caller's team (null for a global admin: shared) before the write.
   */
  async authorizeCreate(p: Principal, req: FastifyRequest, name: string): Promise<WriteDecision> {
    const key = keyOf(name);
    if (!key) return { owner: undefined, claimed: false };
    const admin = isGlobalAdmin(p);
    for (let attempt = 0; attempt < 2; attempt++) {
      const row = await this.owners.get(key);
      const owner = await this.ownerOf(row, name);
      if (owner !== undefined) {
        this.assertMayReplace(p, name, owner, admin);
        return { owner, claimed: false };
      }
      const team = await this.actingTeam(p, req, admin);
      if (await this.owners.claim(key, team, p.userId ?? (p.keyId ? `key:${p.keyId}` : null)))
        return { owner: team, claimed: true };
      // Another request claimed it between our read and insert: decide again with its row.
    }
    throw new CorralError('conflict', `model name '${displayModel(name)}' is being created; retry`);
  }

  /** May the caller delete `name`? (Visibility was checked first: another team's is a 404.) */
  async authorizeDelete(p: Principal, name: string): Promise<WriteDecision> {
    const key = keyOf(name);
    if (!key) return { owner: undefined, claimed: false };
    const owner = await this.ownerOf(await this.owners.get(key), name);
    if (owner !== undefined) this.assertMayReplace(p, name, owner, isGlobalAdmin(p));
    return { owner, claimed: false };
  }

  /** Drops the owner row of a name that is no longer on disk (deleted, or its create failed). */
  async releaseIfGone(name: string): Promise<void> {
    const key = keyOf(name);
    if (key && !(await this.exists(name))) await this.owners.release(key);
  }

  /** Team id, null (shared: a row with no team, or a model on disk without a row), undefined (free). */
  private async ownerOf(row: ModelOwner | undefined, name: string): Promise<string | null | undefined> {
    if (row) return row.teamId;
    return (await this.exists(name)) ? null : undefined;
  }

  private assertMayReplace(p: Principal, name: string, owner: string | null, admin: boolean): void {
    if (admin) return;
    if (owner === null)
      throw new CorralError(
        'forbidden',
        `model '${displayModel(name)}' is shared: only a global admin may replace or delete it`,
        'model',
      );
    if (callerTeams(p).includes(owner)) {
      // A console user may be a viewer of the owning team: viewers do not change models.
      if (p.kind !== 'session' || p.teamRoles[owner] !== 'viewer') return;
      throw new CorralError('forbidden', `viewers may not change model '${displayModel(name)}'`, 'model');
    }
    // Another team's name. The directory is one namespace, so a create must fail either way; the
    // answer says only that the name is taken, never whose it is or what it holds.
    throw new CorralError(
      'conflict',
      `model name '${displayModel(name)}' is already taken; choose another name`,
      'model',
    );
  }

  /**
   * The team a new name belongs to. A key acts for its team; a global admin creates shared models
   * unless the `x-corral-team` header names a team; a console user acts for the one team where
   * they are owner or member, or the one the header names.
   */
  private async actingTeam(p: Principal, req: FastifyRequest, admin: boolean): Promise<string | null> {
    const raw = req.headers[TEAM_HEADER];
    const asked = typeof raw === 'string' && raw.trim() !== '' ? raw.trim() : undefined;
    if (admin) {
      if (asked === undefined) return null;
      if (!(await this.teams.findById(asked)))
        throw new CorralError('bad_request', `no team '${asked}' (${TEAM_HEADER})`, TEAM_HEADER);
      return asked;
    }
    if (p.kind === 'key') {
      if (asked !== undefined && asked !== p.teamId)
        throw new CorralError('forbidden', `this API key acts only for its own team (${TEAM_HEADER})`);
      if (!p.teamId) throw new CorralError('forbidden', 'this API key has no team to own a model');
      return p.teamId;
    }
    const writable = Object.entries(p.teamRoles)
      .filter(([, role]) => role === 'owner' || role === 'member')
      .map(([id]) => id);
    if (asked !== undefined) {
      if (!writable.includes(asked))
        throw new CorralError('forbidden', `you may not create models for team '${asked}'`, TEAM_HEADER);
      return asked;
    }
    if (writable.length === 1) return writable[0]!;
    if (writable.length === 0)
      throw new CorralError('forbidden', 'creating a model needs the owner or member role in a team');
    throw new CorralError(
      'bad_request',
      `you are in several teams: name one with ${TEAM_HEADER}`,
      TEAM_HEADER,
    );
  }

  private async exists(name: string): Promise<boolean> {
    await this.registry.init();
    try {
      return (await this.registry.manifests.locate(parseModelName(name))) !== undefined;
    } catch {
      return false;
    }
  }
}
