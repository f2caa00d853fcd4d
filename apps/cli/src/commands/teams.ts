/** `corral teams list|create|members|add-member|remove-member`: /admin/v1/teams. */
import type { CorralClient } from '../client';
import { renderTable } from '../format';
import { allPages, query, type Out, type PageOf } from './admin-common';

interface TeamView {
  id: string;
  name: string;
  created_at: string;
}

interface MemberView {
  user_id: string;
  email: string;
  name: string;
  role: string;
}

export async function listTeamsCommand(client: CorralClient, out: Out): Promise<void> {
  const teams = await allPages((cursor) =>
    client.json<PageOf<TeamView>>('GET', '/admin/v1/teams' + query({ cursor })),
  );
  out.write(
    renderTable([['ID', 'NAME', 'CREATED'], ...teams.map((t) => [t.id, t.name, t.created_at.slice(0, 10)])]),
  );
}

export async function createTeamCommand(
  client: CorralClient,
  name: string,
  flags: { owner?: string },
  out: Out,
): Promise<void> {
  const team = await client.json<TeamView>('POST', '/admin/v1/teams', {
    name,
    ...(flags.owner ? { owner_id: flags.owner } : {}),
  });
  out.write(`created team ${team.name} (${team.id})\n`);
}

export async function listMembersCommand(client: CorralClient, team: string, out: Out): Promise<void> {
  const members = await allPages((cursor) =>
    client.json<PageOf<MemberView>>(
      'GET',
      `/admin/v1/teams/${encodeURIComponent(team)}/members` + query({ cursor }),
    ),
  );
  out.write(renderTable([['USER', 'EMAIL', 'ROLE'], ...members.map((m) => [m.user_id, m.email, m.role])]));
}

export async function addMemberCommand(
  client: CorralClient,
  team: string,
  who: string,
  flags: { role?: string },
  out: Out,
): Promise<void> {
  const m = await client.json<MemberView>('POST', `/admin/v1/teams/${encodeURIComponent(team)}/members`, {
    ...(who.includes('@') ? { email: who } : { user_id: who }),
    role: flags.role ?? 'member',
  });
  out.write(`${m.email} is now ${m.role} of ${team}\n`);
}

export async function removeMemberCommand(
  client: CorralClient,
  team: string,
  user: string,
  out: Out,
): Promise<void> {
  await client.json(
    'DELETE',
    `/admin/v1/teams/${encodeURIComponent(team)}/members/${encodeURIComponent(user)}`,
  );
  out.write(`removed ${user} from ${team}\n`);
}
