import { z } from 'zod';

/** One request's usage, written once when it ends (success, error or cancellation). */
export interface UsageRecord {
  /** When the request started. */
  ts: Date;
  requestId: string;
  teamId?: string;
  keyId?: string;
  userId?: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** Time to first token; absent when none came. */
  ttftMs?: number;
  durationMs: number;
  status: 'ok' | 'error' | 'cancelled' | 'refused';
}

export const GROUP_BY = ['team', 'key', 'user', 'model'] as const;
export type UsageGroup = (typeof GROUP_BY)[number];
export const GRANULARITIES = ['hour', 'day', 'month', 'total'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

/** The /admin/v1/usage query string. */
export const UsageQuerySchema = z
  .strictObject({
    from: z.iso
      .datetime({ offset: true, error: 'from must be an ISO 8601 date-time' })
      .transform((s) => new Date(s)),
    to: z.iso
      .datetime({ offset: true, error: 'to must be an ISO 8601 date-time' })
      .transform((s) => new Date(s)),
    groupBy: z
      .string()
      .optional()
      .transform((s, ctx) => {
        const parts = (s ?? '').split(',').filter(Boolean);
        for (const p of parts)
          if (!(GROUP_BY as readonly string[]).includes(p))
            ctx.addIssue({ code: 'custom', message: `groupBy: '${p}' is not one of ${GROUP_BY.join(', ')}` });
        return [...new Set(parts)] as UsageGroup[];
      }),
    granularity: z
      .enum(GRANULARITIES, { error: `granularity must be one of ${GRANULARITIES.join(', ')}` })
      .default('day'),
    teamId: z.string().min(1).optional(),
    keyId: z.string().min(1).optional(),
    userId: z.string().min(1).optional(),
    model: z.string().min(1).optional(),
    format: z.enum(['json', 'csv'], { error: 'format must be json or csv' }).default('json'),
  })
  .refine((q) => q.from < q.to, { message: 'from must be before to', path: ['from'] });
export type UsageQuery = z.output<typeof UsageQuerySchema>;

export interface UsageRow {
  /** Start of the hour/day/month (UTC), absent for granularity total. */
  period?: string;
  teamId?: string;
  keyId?: string;
  userId?: string;
  model?: string;
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  avgDurationMs: number;
  avgTtftMs: number | null;
}

/** Where finished requests' usage goes without the request waiting (non-blocking). */
export interface UsageSink {
  record(r: UsageRecord): void;
}

/** Writes one batch durably, in one transaction (UsageRepository.insertBatch). */
export interface UsageBatchWriter {
  insertBatch(records: UsageRecord[]): Promise<number>;
}
