/**
 * The audit log's run observer, driven through the real `RunObservers` seam (as the inference
 * handlers will call it) against a real audit log on a real database. Over HTTP (a real Fastify
 * server with the interceptor's hook) the run's model, tokens and refusal land on the request's own
 * event; without a request in flight the observer records an event of its own. Content is captured
 * only for a team whose policy says so, apart from the events, joined to the event by id and by
 * request id.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { RunObservers, type EndedRun } from '@corral/core';
import { openAuditLog, type AuditLog } from './audit-log';
import { DbContentPolicies } from './content';
import { AuditInterceptor } from './interceptor';
import { AuditRunObserver } from './run-observer';
import { auditTargets, openTestDb, resetAuditTables, type TestDb } from '@corral/testing';

type Rows = Record<string, unknown>[];

function run(over: Partial<EndedRun> = {}): EndedRun {
  return {
    requestId: 'req_direct1',
    route: '/api/chat',
    kind: 'chat',
    teamId: 'team-cap',
    keyId: 'key_abc',
    userId: 'usr_1',
    model: 'tiny:latest',
    startedAt: new Date(),
    status: 200,
    promptTokens: 12,
    completionTokens: 4,
    ttftMs: 8.4,
    durationMs: 31.6,
    input: { messages: [{ role: 'user', content: 'what is the launch code?' }] },
    output: { content: 'Hello from Corral!' },
    ...over,
  };
}

describe.each(auditTargets())('audit run observer on %s', (target) => {
  let t: TestDb;
  let log: AuditLog;
  let runs: RunObservers;
  let app: FastifyInstance;
  let url: string;
  const q = (sql: string, p?: unknown[]) => t.db.dataSource.query(sql, p) as Promise<Rows>;

  beforeAll(async () => {
    t = await openTestDb(target);
  });
  afterAll(() => t.dispose());
  beforeEach(async () => {
    await resetAuditTables(t);
    log = await openAuditLog({ dataSource: t.db.dataSource, home: t.home, appender: { pollMs: 20 } });
    await (log.policies as DbContentPolicies).setPolicy('team-cap', { capture: true, retentionDays: 7 });
    const interceptor = new AuditInterceptor(log.service);
    runs = new RunObservers();
    runs.add(new AuditRunObserver(log.service, interceptor));
    app = Fastify({ logger: false, genReqId: () => `req_${Math.random().toString(36).slice(2, 10)}` });
    app.addHook('onRequest', interceptor.hook);
    // Stands in for an inference handler: it answers, then reports the ended run.
    app.post('/api/chat', async (req, reply) => {
      const b = req.body as { team: string; refuse?: boolean };
      if (b.refuse) {
        runs.notify(
          run({
            requestId: String(req.id),
            teamId: b.team,
            status: 429,
            errorCode: 'rate_limited',
            limit: 'team.requestsPerMinute',
            promptTokens: 0,
            completionTokens: 0,
            output: undefined,
          }),
        );
        return reply.status(429).send({ error: 'rate limit reached' });
      }
      runs.notify(run({ requestId: String(req.id), teamId: b.team }));
      return { message: { role: 'assistant', content: 'Hello from Corral!' } };
    });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterEach(async () => {
    await app.close();
    await log.close();
  });

  const post = (body: unknown) =>
    fetch(`${url}/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it("puts the run's model and token counts on the request's own event and links captured content", async () => {
    const res = await post({ model: 'tiny', team: 'team-cap' });
    expect(res.status).toBe(200);
    await log.drain();
    const events = await q(`SELECT * FROM audit_events ORDER BY seq`);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      action: 'api.request',
      route: 'POST /api/chat',
      model: 'tiny:latest',
      prompt_tokens: 12,
      completion_tokens: 4,
      status: 200,
    });
    expect(events[0]!.details).toMatchObject({ kind: 'chat', ttft_ms: 8 });
    const joined = await q(
      `SELECT e.seq, e.request_id AS event_request, c.request_id AS content_request, c.prompt, c.response
         FROM audit_content c JOIN audit_events e ON e.event_id = c.event_id`,
    );
    expect(joined).toHaveLength(1);
    expect(joined[0]!.event_request).toBe(joined[0]!.content_request);
    expect(JSON.stringify(joined[0]!.prompt)).toContain('launch code');
    expect(joined[0]!.response).toEqual({ content: 'Hello from Corral!' });
    expect(await log.verify()).toMatchObject({ ok: true });
  });

  it('captures nothing for a team whose policy is off (the default)', async () => {
    expect((await post({ model: 'tiny', team: 'team-quiet' })).status).toBe(200);
    await log.drain();
    expect(await q(`SELECT model, prompt_tokens FROM audit_events`)).toEqual([
      { model: 'tiny:latest', prompt_tokens: 12 },
    ]);
    expect(await q(`SELECT * FROM audit_content`)).toEqual([]);
  });

  it('records a quota refusal naming the limit on the refused request', async () => {
    expect((await post({ model: 'tiny', team: 'team-quiet', refuse: true })).status).toBe(429);
    await log.drain();
    const [e, more] = await q(`SELECT * FROM audit_events ORDER BY seq`);
    expect(more).toBeUndefined();
    expect(e).toMatchObject({ action: 'quota.refused', status: 429, error_code: 'rate_limited' });
    expect(e!.details).toMatchObject({ limit: 'team.requestsPerMinute' });
  });

  it('records an event of its own for a run whose request is not in flight', async () => {
    runs.notify(run({ requestId: 'req_gone', teamId: 'team-quiet', status: 200 }));
    runs.notify(
      run({
        requestId: 'req_refused',
        teamId: 'team-cap',
        status: 429,
        errorCode: 'quota_exceeded',
        limit: 'key.dailyTokens',
        output: undefined,
      }),
    );
    await log.drain();
    const rows = await q(`SELECT * FROM audit_events ORDER BY seq`);
    expect(rows.map((r) => [r.request_id, r.action, r.actor_type, r.actor_id])).toEqual([
      ['req_gone', 'api.inference', 'key', 'key_abc'],
      ['req_refused', 'quota.refused', 'key', 'key_abc'],
    ]);
    expect(rows[0]).toMatchObject({ model: 'tiny:latest', prompt_tokens: 12, completion_tokens: 4 });
    expect(rows[1]).toMatchObject({ error_code: 'quota_exceeded', status: 429 });
    expect(rows[1]!.details).toMatchObject({ limit: 'key.dailyTokens' });
    // team-cap captures: the refused run's prompt is kept, linked to its own event.
    const content = await q(`SELECT c.request_id FROM audit_content c JOIN audit_events e USING (event_id)`);
    expect(content).toEqual([{ request_id: 'req_refused' }]);
  });
});
