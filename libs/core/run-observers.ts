/**
 * The seam between the inference request path and the features that watch it (usage accounting,
 * audit content capture, quota refusal events). The Ollama and OpenAI handlers report every
 * inference request once, when it has ended (or was refused before dispatch); observers register
 * themselves at module init. Observers must not throw or block: they enqueue and return.
 */
import { Injectable, Logger } from '@nestjs/common';

export interface EndedRun {
  /** The request id the gateway assigned (the same one the audit log's api.request event carries). */
  requestId: string;
  /** Route as the client called it, e.g. `/api/chat`, `/v1/chat/completions`. */
  route: string;
  /** The endpoint's kind. */
  kind: 'generate' | 'chat' | 'completion' | 'embedding';
  teamId: string | null;
  keyId: string | null;
  userId: string | null;
  /** Full model name as resolved (e.g. `tiny:latest`); the requested name when it did not resolve. */
  model: string;
  startedAt: Date;
  /** HTTP status the client got: 200 (also when a stream ended in an in-band error, see errorCode), 4xx/5xx otherwise, 499 when the client went away. */
  status: number;
  /**
   * How the request ended, for accounting: `refused` before dispatch (quota, model not allowed),
   * `cancelled` when the client went away, `error` when it failed (also in-band in a stream).
   */
  outcome?: 'ok' | 'error' | 'cancelled' | 'refused';
  /** CorralError code when the request failed or was refused (e.g. `rate_limited`, `quota_exceeded`). */
  errorCode?: string;
  /**
   * For a quota refusal: which limit was hit, e.g. `team.tokensPerMinute`; `allowedModels` or
   * `maxTokensPerRequest` (team and key combined) for a refusal before any reservation.
   */
  limit?: string;
  promptTokens: number;
  completionTokens: number;
  /** Time to first token; absent when none was produced. */
  ttftMs?: number;
  durationMs: number;
  /** What the caller sent: prompt/system, or the messages (and tools), as the dialect received them. */
  input: unknown;
  /** The generated text (and tool calls); absent for embeddings and refusals. */
  output?: unknown;
}

export interface RunObserver {
  runEnded(run: EndedRun): void;
}

@Injectable()
export class RunObservers {
  private readonly logger = new Logger('RunObservers');
  private readonly observers: RunObserver[] = [];

  add(observer: RunObserver): void {
    this.observers.push(observer);
  }

  /** Tells every observer; one that throws is logged and does not affect the others or the request. */
  notify(run: EndedRun): void {
    for (const o of this.observers) {
      try {
        o.runEnded(run);
      } catch (e) {
        this.logger.error(`run observer failed: ${(e as Error).message}`);
      }
    }
  }
}
