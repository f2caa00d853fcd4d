import type { AuditEventInput } from '@corral/audit';

/** A plausible API-request event; `i` varies the fields so every event hashes differently. */
export function sampleRequest(i: number, over: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    requestId: `req-${i}`,
    actor: { type: 'key', id: `key_${i % 3}` },
    teamId: i % 2 ? 'team-a' : 'team-b',
    action: 'api.request',
    route: '/api/chat',
    resource: '/api/chat',
    model: 'tiny:latest',
    outcome: { status: 200 },
    tokens: { prompt: 10 + i, completion: 5 },
    durationMs: 12,
    clientAddress: '127.0.0.1',
    userAgent: 'ollama-js/0.6',
    ...over,
  };
}
