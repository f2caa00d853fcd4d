/**
 * The admin API's OpenAPI 3.1 document, generated from the same zod schemas the controllers
 * validate with (z.toJSONSchema emits JSON Schema 2020-12, which OpenAPI 3.1 uses as is).
 */
import { z } from 'zod';
import * as dto from './dto';

interface Op {
  method: 'get' | 'post' | 'patch' | 'delete';
  path: string;
  summary: string;
  query?: z.ZodObject;
  body?: z.ZodType;
  response?: z.ZodType;
  status?: number;
}

const Error = z.object({ error: z.string() });

const OPS: Op[] = [
  {
    method: 'get',
    path: '/admin/v1/users',
    summary: 'List users (admin)',
    query: dto.ListUsersQuery,
    response: dto.pageOf(dto.UserOut),
  },
  {
    method: 'post',
    path: '/admin/v1/users',
    summary: 'Create a user (admin)',
    body: dto.CreateUserBody,
    response: dto.UserOut,
    status: 201,
  },
  { method: 'get', path: '/admin/v1/users/{id}', summary: 'Get a user (admin)', response: dto.UserOut },
  {
    method: 'patch',
    path: '/admin/v1/users/{id}',
    summary: 'Update a user (admin)',
    body: dto.UpdateUserBody,
    response: dto.UserOut,
  },
  {
    method: 'get',
    path: '/admin/v1/teams',
    summary: 'List teams (admin: all; others: their own)',
    query: dto.ListTeamsQuery,
    response: dto.pageOf(dto.TeamOut),
  },
  {
    method: 'post',
    path: '/admin/v1/teams',
    summary: 'Create a team (admin)',
    body: dto.CreateTeamBody,
    response: dto.TeamOut,
    status: 201,
  },
  { method: 'get', path: '/admin/v1/teams/{id}', summary: 'Get a team', response: dto.TeamOut },
  {
    method: 'patch',
    path: '/admin/v1/teams/{id}',
    summary: 'Rename a team (owner)',
    body: dto.UpdateTeamBody,
    response: dto.TeamOut,
  },
  {
    method: 'delete',
    path: '/admin/v1/teams/{id}',
    summary: 'Delete a team and its keys (admin)',
    status: 204,
  },
  {
    method: 'get',
    path: '/admin/v1/teams/{id}/members',
    summary: 'List members',
    query: dto.ListMembersQuery,
    response: dto.pageOf(dto.MemberOut),
  },
  {
    method: 'post',
    path: '/admin/v1/teams/{id}/members',
    summary: 'Add a member (owner)',
    body: dto.AddMemberBody,
    response: dto.MemberOut,
    status: 201,
  },
  {
    method: 'patch',
    path: '/admin/v1/teams/{id}/members/{userId}',
    summary: "Change a member's role (owner)",
    body: dto.UpdateMemberBody,
    response: dto.MemberOut,
  },
  {
    method: 'delete',
    path: '/admin/v1/teams/{id}/members/{userId}',
    summary: 'Remove a member (owner)',
    status: 204,
  },
  {
    method: 'post',
    path: '/admin/v1/keys',
    summary: 'Create an API key; the secret is in this response only',
    body: dto.CreateKeyBody,
    response: dto.IssuedKeyOut,
    status: 201,
  },
  {
    method: 'get',
    path: '/admin/v1/keys',
    summary: 'List API keys',
    query: dto.ListKeysQuery,
    response: dto.pageOf(dto.KeyOut),
  },
  { method: 'get', path: '/admin/v1/keys/{id}', summary: 'Get an API key', response: dto.KeyOut },
  {
    method: 'post',
    path: '/admin/v1/keys/{id}/rotate',
    summary: 'New secret; the old one stays valid for grace_seconds',
    body: dto.RotateKeyBody,
    response: dto.IssuedKeyOut,
  },
  { method: 'post', path: '/admin/v1/keys/{id}/revoke', summary: 'Revoke an API key', response: dto.KeyOut },
  { method: 'delete', path: '/admin/v1/keys/{id}', summary: 'Revoke an API key', response: dto.KeyOut },
];

function schema(s: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const json = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

export function buildOpenApi(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPS) {
    const parameters: unknown[] = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    if (op.query) {
      for (const [name, field] of Object.entries(op.query.shape)) {
        const s = schema(field as z.ZodType, 'input');
        parameters.push({ name, in: 'query', required: false, schema: s, description: s.description });
      }
    }
    const status = String(op.status ?? 200);
    const responses: Record<string, unknown> = {
      [status]: op.response
        ? { description: 'OK', content: { 'application/json': { schema: schema(op.response, 'output') } } }
        : { description: 'No content' },
      '400': {
        description: 'Invalid input (the message names the field)',
        content: { 'application/json': { schema: schema(Error, 'output') } },
      },
      '401': { description: 'Missing or invalid credentials' },
      '403': { description: 'Missing scope or role' },
      '404': { description: 'Not found (including resources of other teams)' },
    };
    if (op.method === 'post') responses['409'] = { description: 'Duplicate name' };
    paths[op.path] ??= {};
    paths[op.path]![op.method] = {
      summary: op.summary,
      parameters,
      ...(op.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: schema(op.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Corral admin API', version },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'API key (crl_…) with the admin scope' },
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
        session: { type: 'apiKey', in: 'cookie', name: 'corral_session' },
      },
    },
    security: [{ bearer: [] }, { apiKey: [] }, { session: [] }],
    paths,
  };
}
