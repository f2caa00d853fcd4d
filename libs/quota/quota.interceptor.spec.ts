/**
 * What a refused caller receives over HTTP: 429, Retry-After and x-ratelimit-* headers, and a body
 * in its own dialect naming the limit (through the real global filter on a real Nest/Fastify app).
 */
import { Controller, Module, Post, UseInterceptors } from '@nestjs/common';
import { APP_FILTER, NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { CorralExceptionFilter } from '@corral/common';
import { MemoryQuotaStore } from './memory-store';
import { QuotaHeadersInterceptor } from './quota.interceptor';
import { QuotaService } from './quota.service';

const quota = new QuotaService(new MemoryQuotaStore(), {
  team: () => Promise.resolve({ requestsPerMinute: 1, dailyTokens: 10_000 }),
  key: () => Promise.resolve(undefined),
});

@Controller()
@UseInterceptors(QuotaHeadersInterceptor)
class Probe {
  @Post(['v1/chat/completions', 'api/chat'])
  async chat() {
    const a = await quota.admit({ teamId: 't', keyId: 'k', model: 'tiny', promptTokens: 10, maxTokens: 10 });
    await a.settle(15);
    return { ok: true, headers: a.headers };
  }
}

@Module({ controllers: [Probe], providers: [{ provide: APP_FILTER, useClass: CorralExceptionFilter }] })
class ProbeModule {}

describe('a refused request over HTTP', () => {
  let app: NestFastifyApplication;
  let base: string;
  beforeAll(async () => {
    app = await NestFactory.create<NestFastifyApplication>(ProbeModule, new FastifyAdapter(), {
      logger: false,
    });
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
  });
  const post = async (path: string) => {
    const r = await fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    return {
      statusCode: r.status,
      headers: Object.fromEntries(r.headers),
      json: <T>() => r.json() as Promise<T>,
    };
  };
  afterAll(() => app.close());

  it('gets 429 with Retry-After, rate-limit headers and an OpenAI-shaped body naming the limit', async () => {
    const ok = await post('/v1/chat/completions');
    expect(ok.statusCode).toBe(201);
    const res = await post('/v1/chat/completions');
    expect(res.statusCode).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(59);
    expect(res.headers['x-ratelimit-limit-requests']).toBe('1');
    expect(res.headers['x-ratelimit-remaining-requests']).toBe('0');
    expect(res.headers['x-ratelimit-reset-requests']).toMatch(/^(59(\.\d+)?s|1m0s)$/);
    const body = await res.json<{ error: { message: string; type: string; code: string } }>();
    expect(body.error.type).toBe('rate_limit_error');
    expect(body.error.code).toBe('rate_limited');
    expect(body.error.message).toMatch(/requests per minute \(requestsPerMinute = 1\)/);
  });

  it('gets the Ollama shape on /api/*', async () => {
    const res = await post('/api/chat');
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBeDefined();
    expect((await res.json<{ error: string }>()).error).toMatch(
      /^rate limit reached: your team's requests per minute/,
    );
  });
});
