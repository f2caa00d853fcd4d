import type { DataSource } from 'typeorm';
import { ApiKeysRepository } from './api-keys.repository';
import { ModelOwnersRepository } from './model-owners.repository';
import { SessionsRepository } from './sessions.repository';
import { queryOf } from './sql';
import { TeamsRepository } from './teams.repository';
import { UsersRepository } from './users.repository';

export * from './sql';
export * from './users.repository';
export * from './teams.repository';
export * from './api-keys.repository';
export * from './sessions.repository';
export * from './model-owners.repository';

/** All identity repositories over one data source. */
export class AuthRepositories {
  readonly users: UsersRepository;
  readonly teams: TeamsRepository;
  readonly keys: ApiKeysRepository;
  readonly sessions: SessionsRepository;
  readonly modelOwners: ModelOwnersRepository;

  constructor(ds: DataSource) {
    const q = queryOf(ds);
    this.users = new UsersRepository(q);
    this.teams = new TeamsRepository(q);
    this.keys = new ApiKeysRepository(q);
    this.sessions = new SessionsRepository(q);
    this.modelOwners = new ModelOwnersRepository(q);
  }
}
