/**
 * The gateway-overhead baseline: a bare Fastify server (no Nest, no auth, no database) answering
 * GET /v1/models and /api/tags with the JSON Corral returned. Forked by the harness; reports its
 * port over IPC.
 */
import Fastify from 'fastify';

interface Bodies {
  models: unknown;
  tags: unknown;
}

process.once('message', (bodies: Bodies) => {
  const app = Fastify({ logger: false });
  app.get('/v1/models', () => bodies.models);
  app.get('/api/tags', () => bodies.tags);
  app.listen({ host: '127.0.0.1', port: 0 }).then(
    () => {
      const addr = app.server.address();
      process.send?.({ port: typeof addr === 'object' && addr ? addr.port : 0 });
    },
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
});
process.on('disconnect', () => process.exit(0));
