/**
 * The audit API and the request interceptor in a real Nest/Fastify app on a real database. A small
 * guard stands in for the AuthGuard (being built beside this) and sets @corral/auth's principal from a
 * header; everything else — module, controller, interceptor hook, buffer, appender — is the real one.
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import {
  Controller,
  Get,
  Global,
  Module,
  UseInterceptors,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import { ALL_SCOPES, setPrincipal, type Principal } from '@corral/auth';
import { CorralError, CorralExceptionFilter } from '@corral/common';
import { loadConfig } from '@corral/config';
import { CONFIG, DATABASE } from '@corral/core';
import type { AuditLog } from './audit-log';
import { AuditModule } from './audit.module';
import { AuditInterceptor } from './interceptor';
import type { AuditEventDto, AuditPage } from './search';
import { auditTargets, openTestDb, type TestDb, sampleRequest } from '@corral/testing';
import { AUDIT_LOG } from './audit.di-tokens';

const people: Record<string, Omit<Principal, 'scopes' | 'models'>> = {
  admin: { kind: 'session', userId: 'usr_admin', teamId: null, globalRole: 'admin', teamRoles: {} },
  auditor: { kind: 'session', userId: 'usr_aud', teamId: null, globalRole: 'auditor', teamRoles: {} },
  ownerA: {
    kind: 'session',
    userId: 'usr_owner',
    teamId: null,
    globalRole: null,
    teamRoles: { 'team-a': 'owner' },
  },
  member: {
    kind: 'session',
    userId: 'usr_m',
    teamId: null,
    globalRole: null,
    teamRoles: { 'team-a': 'member' },
  },
};

class HeaderGuard implements CanActivate {
  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    const who = people[String(req.headers['x-test-user'])];
    if (!who) throw new CorralError('unauthorized', 'invalid credentials');
    setPrincipal(req, { ...who, scopes: ALL_SCOPES, models: null });
    return true;
  }
}

/** A handler that fails with a domain error, behind the Nest-interceptor form of AuditInterceptor. */
@Controller('boom')
@UseInterceptors(AuditInterceptor)
class BoomController {
  @Get()
  boom(): never {
    throw new CorralError('worker_failed', 'the worker crashed');
  }
}

describe.each(auditTargets())('audit HTTP API on %s', (target) => {
  let t: TestDb;
  let app: NestFastifyApplication;
  let log: AuditLog;
  let base: string;

  beforeAll(async () => {
    t = await openTestDb(target);
    const config = loadConfig({ CORRAL_HOME: mkdtempSync(join(t.home, 'home-')) });
    @Global()
    @Module({
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: DATABASE, useValue: t.db },
      ],
      exports: [CONFIG, DATABASE],
    })
    class Core {}
    @Module({
      imports: [Core, AuditModule],
      controllers: [BoomController],
      providers: [
        { provide: APP_GUARD, useClass: HeaderGuard },
        { provide: APP_FILTER, useClass: CorralExceptionFilter },
      ],
    })
    class TestApp {}
    app = await NestFactory.create<NestFastifyApplication>(TestApp, new FastifyAdapter(), {
      logger: ['error'],
      abortOnError: false,
    });
    app.getHttpAdapter().getInstance().addHook('onRequest', app.get(AuditInterceptor).hook);
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
    log = app.get<AuditLog>(AUDIT_LOG);
    for (let i = 0; i < 7; i++) log.service.record(sampleRequest(i)); // team-a: 1,3,5; team-b: 0,2,4,6
    log.service.record({
      actor: { type: 'user', id: 'usr_admin' },
      action: 'key.create',
      teamId: 'team-a',
      outcome: { status: 201 },
    });
    log.service.record({
      actor: { type: 'key', id: 'key_x' },
      action: 'api.request',
      teamId: 'team-b',
      outcome: { status: 500, errorCode: 'worker_failed' },
    });
    await log.drain();
  });
  afterAll(async () => {
    await app?.close();
    await t.dispose();
  });

  // light-my-request (app.inject) cannot load under Jest's VM modules, so tests speak real HTTP.
  const call = async (method: string, url: string, who?: string) => {
    const res = await fetch(base + url, {
      method,
      headers: { ...(who ? { 'x-test-user': who } : {}), 'user-agent': 'audit-test/1' },
    });
    const body = await res.text();
    return {
      statusCode: res.status,
      headers: Object.fromEntries(res.headers),
      body,
      json: <T = unknown>() => JSON.parse(body) as T,
    };
  };
  const get = (url: string, who?: string) => call('GET', url, who);

  it('pages through everything, newest first, for an admin', async () => {
    const seen: AuditEventDto[] = [];
    let url = '/admin/v1/audit?limit=4&to=' + encodeURIComponent(new Date(Date.now() + 60_000).toISOString());
    for (;;) {
      const res = await get(url, 'admin');
      expect(res.statusCode).toBe(200);
      const page = res.json<AuditPage>();
      seen.push(...page.data);
      if (!page.next_cursor) break;
      url = `/admin/v1/audit?limit=4&cursor=${page.next_cursor}`;
    }
    const seqs = seen.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seen.filter((e) => e.action === 'key.create')).toHaveLength(1);
  });

  it('filters by team, action prefix, actor and outcome', async () => {
    const q = async (qs: string) => (await get('/admin/v1/audit?' + qs, 'auditor')).json<AuditPage>().data;
    expect((await q('team=team-a&action=api.request')).map((e) => e.request_id).sort()).toEqual([
      'req-1',
      'req-3',
      'req-5',
    ]);
    expect((await q('action=key.*')).map((e) => e.action)).toEqual(['key.create']);
    expect((await q('actor=key_x&outcome=failure'))[0]).toMatchObject({
      outcome: { status: 500, error_code: 'worker_failed' },
    });
    expect((await get('/admin/v1/audit?outcome=maybe', 'admin')).statusCode).toBe(400);
    expect((await get('/admin/v1/audit?cursor=nonsense', 'admin')).statusCode).toBe(400);
  });

  it('shows team owners their teams only, and members nothing', async () => {
    const events = (await get('/admin/v1/audit?limit=1000', 'ownerA')).json<AuditPage>().data;
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.team_id === 'team-a')).toBe(true);
    expect((await get('/admin/v1/audit', 'member')).statusCode).toBe(403);
    expect((await call('POST', '/admin/v1/audit/verify', 'ownerA')).statusCode).toBe(403);
  });

  it('exports NDJSON and CSV', async () => {
    const nd = await get('/admin/v1/audit?format=ndjson&team=team-b', 'admin');
    expect(nd.headers['content-type']).toContain('application/x-ndjson');
    const rows = nd.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEventDto);
    expect(rows.map((r) => r.request_id).slice(0, 4)).toEqual(['req-0', 'req-2', 'req-4', 'req-6']);
    const csv = await get('/admin/v1/audit?format=csv&team=team-b', 'admin');
    const lines = csv.body.trim().split('\r\n');
    expect(lines[0]).toMatch(/^seq,id,time,request_id,actor_type,actor_id,team_id,action/);
    expect(lines).toHaveLength(rows.length + 1);
  });

  it('records every request, refusals included, and verifies', async () => {
    await get('/admin/v1/audit?team=team-a', 'admin');
    await get('/admin/v1/audit', 'nobody');
    await log.drain();
    const mine = (await get('/admin/v1/audit?limit=1000&actor=usr_admin', 'auditor')).json<AuditPage>().data;
    expect(mine.find((e) => e.route === 'GET /admin/v1/audit')).toMatchObject({
      actor: { type: 'user', id: 'usr_admin' },
      outcome: { status: 200, error_code: null },
      user_agent: 'audit-test/1',
      client_address: '127.0.0.1',
    });
    const failures = (await get('/admin/v1/audit?action=auth.failure', 'auditor')).json<AuditPage>().data;
    expect(failures[0]).toMatchObject({
      actor: { type: 'anonymous', id: null },
      outcome: { status: 401, error_code: 'unauthorized' },
    });
    // The Nest-interceptor form sees the thrown error's code (status alone would say "internal").
    expect((await get('/boom', 'admin')).statusCode).toBe(500);
    await log.drain();
    const boom = (await get('/admin/v1/audit?resource=/boom', 'auditor')).json<AuditPage>().data;
    expect(boom).toHaveLength(1);
    expect(boom[0]).toMatchObject({
      route: 'GET /boom',
      outcome: { status: 500, error_code: 'worker_failed' },
    });
    const v = await call('POST', '/admin/v1/audit/verify', 'auditor');
    expect(v.json()).toMatchObject({ ok: true });
  });
});
