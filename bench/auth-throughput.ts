/**
 * What authentication costs on a cheap route: GET /v1/models served by the real OpenAI controller
 * with the real AuthModule (global guard, cached key verification, scope check, allow-list
 * interceptor) and a real API key, against the same Nest/Fastify route with no auth module, both in
 * one process, measured in interleaved rounds with autocannon.
 *
 * Standalone: `npm run build && node dist/bench/auth-throughput.js` (prints a markdown table).
 * Knobs: CORRAL_BENCH_AUTH_SECONDS (per round, default 3), CORRAL_BENCH_AUTH_ROUNDS (default 3),
 * CORRAL_BENCH_AUTH_CONNECTIONS (default 32).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import autocannon from 'autocannon';
import { OpenAiApiModule } from '@corral/api-openai';
import { AuthModule, bootstrapAuth } from '@corral/auth';
import { loadConfig } from '@corral/config';
import { Scheduler, WorkerPool } from '@corral/dispatch';
import { openDatabase } from '@corral/persistence';
import { createRegistry } from '@corral/registry';
import { MIGRATIONS } from '../migrations';
import { CoreModule, type CoreServices } from '../apps/gateway/src/app.module';
import { runStandalone } from './support/standalone';

type Row = Record<string, string | number>;

@Module({})
class NoAuthModule {
  static with(core: CoreServices): DynamicModule {
    return { module: NoAuthModule, imports: [CoreModule.with(core), OpenAiApiModule] };
  }
}

/** The same, plus AuthModule alone (the full gateway adds other features' guards, e.g. quotas). */
@Module({})
class AuthOnlyModule {
  static with(core: CoreServices): DynamicModule {
    return { module: AuthOnlyModule, imports: [CoreModule.with(core), AuthModule, OpenAiApiModule] };
  }
}

async function listen(module: DynamicModule): Promise<{ app: NestFastifyApplication; url: string }> {
  const app = await NestFactory.create<NestFastifyApplication>(module, new FastifyAdapter(), {
    logger: false,
  });
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpAdapter().getInstance().server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { app, url: `http://127.0.0.1:${port}` };
}

async function measure(url: string, headers: Record<string, string>, seconds: number, connections: number) {
  const r = await autocannon({ url: `${url}/v1/models`, headers, duration: seconds, connections });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx + r.errors,
  };
}

type Measured = Awaited<ReturnType<typeof measure>>;

function median(ms: Measured[]): Measured {
  const sorted = [...ms].sort((x, y) => x.rps - y.rps);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export async function run(): Promise<{ title: string; rows: Row[] }> {
  const seconds = Number(process.env.CORRAL_BENCH_AUTH_SECONDS ?? 3);
  const rounds = Number(process.env.CORRAL_BENCH_AUTH_ROUNDS ?? 3);
  const connections = Number(process.env.CORRAL_BENCH_AUTH_CONNECTIONS ?? 32);
  const home = mkdtempSync(join(tmpdir(), 'corral-bench-auth-'));
  const config = loadConfig({ CORRAL_HOME: home, CORRAL_LOG_LEVEL: 'error' });
  const database = await openDatabase(
    { kind: 'pglite', dataDir: join(home, 'db') },
    { migrations: MIGRATIONS },
  );
  const apps: NestFastifyApplication[] = [];
  try {
    await bootstrapAuth(database, home);
    const key = readFileSync(join(home, 'admin.key'), 'utf8').trim();
    const core: CoreServices = {
      config,
      database,
      registry: createRegistry({ modelsDir: join(home, 'models') }),
      // Never started: listing models needs no worker.
      scheduler: new Scheduler(new WorkerPool({ count: 0 }), {
        maxLoadedModels: 1,
        maxQueue: 1,
        loadTimeoutMs: 1000,
      }),
    };
    const authed = await listen(AuthOnlyModule.with(core));
    const bare = await listen(NoAuthModule.with(core));
    apps.push(authed.app, bare.app);
    const headers = { authorization: `Bearer ${key}` };
    // Warm both (JIT, the key cache) before measuring.
    await measure(authed.url, headers, 1, connections);
    await measure(bare.url, {}, 1, connections);
    // Interleaved rounds, alternating which goes first, so load from elsewhere on the machine hits
    // both alike; the median round of each is reported.
    const a: Measured[] = [];
    const b: Measured[] = [];
    for (let i = 0; i < rounds; i++) {
      if (i % 2 === 0) {
        a.push(await measure(authed.url, headers, seconds, connections));
        b.push(await measure(bare.url, {}, seconds, connections));
      } else {
        b.push(await measure(bare.url, {}, seconds, connections));
        a.push(await measure(authed.url, headers, seconds, connections));
      }
    }
    const withAuth = median(a);
    const without = median(b);
    const row = (variant: string, m: typeof withAuth): Row => ({
      variant,
      'req/s': Math.round(m.rps),
      'p50 ms': m.p50,
      'p99 ms': m.p99,
      'non-2xx/errors': m.non2xx,
    });
    return {
      title: `Auth overhead: GET /v1/models, ${connections} connections, median of ${rounds} interleaved ${seconds}s rounds (ratio ${(withAuth.rps / without.rps).toFixed(3)})`,
      rows: [
        row('API key (Bearer), guard + cached verification', withAuth),
        row('same route, no auth module', without),
        {
          variant: 'ratio (auth / no auth)',
          'req/s': (withAuth.rps / without.rps).toFixed(3),
          'p50 ms': '',
          'p99 ms': '',
          'non-2xx/errors': '',
        },
      ],
    };
  } finally {
    for (const app of apps) await app.close();
    await database.close();
    rmSync(home, { recursive: true, force: true });
  }
}

runStandalone(module, run);
