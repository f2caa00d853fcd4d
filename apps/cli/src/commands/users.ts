/** `corral users list|create|set-password|disable|enable`: /admin/v1/users (admins only). */
import type { CorralClient } from '../client';
import { renderTable } from '../format';
import { allPages, query, readLine, type Out, type PageOf } from './admin-common';

interface UserView {
  id: string;
  email: string;
  name: string;
  global_role: string | null;
  disabled: boolean;
}

export async function listUsersCommand(client: CorralClient, out: Out): Promise<void> {
  const users = await allPages((cursor) =>
    client.json<PageOf<UserView>>('GET', '/admin/v1/users' + query({ cursor })),
  );
  out.write(
    renderTable([
      ['ID', 'EMAIL', 'NAME', 'ROLE', 'STATUS'],
      ...users.map((u) => [u.id, u.email, u.name, u.global_role ?? '', u.disabled ? 'disabled' : 'active']),
    ]),
  );
}

export interface CreateUserFlags {
  name?: string;
  role?: string;
  /** Read the password from the first line of stdin. */
  passwordStdin?: boolean;
}

export async function createUserCommand(
  client: CorralClient,
  email: string,
  flags: CreateUserFlags,
  input: NodeJS.ReadableStream,
  out: Out,
): Promise<void> {
  const password = flags.passwordStdin ? await readLine(input) : undefined;
  const user = await client.json<UserView>('POST', '/admin/v1/users', {
    email,
    ...(flags.name ? { name: flags.name } : {}),
    ...(flags.role ? { global_role: flags.role } : {}),
    ...(password !== undefined ? { password } : {}),
  });
  out.write(`created user ${user.email} (${user.id})\n`);
}

export async function updateUserCommand(
  client: CorralClient,
  id: string,
  patch: { disabled?: boolean; passwordFrom?: NodeJS.ReadableStream },
  out: Out,
): Promise<void> {
  const body: Record<string, unknown> = {};
  if (patch.disabled !== undefined) body.disabled = patch.disabled;
  if (patch.passwordFrom) body.password = await readLine(patch.passwordFrom);
  const user = await client.json<UserView>('PATCH', `/admin/v1/users/${encodeURIComponent(id)}`, body);
  out.write(`updated user ${user.email}\n`);
}
