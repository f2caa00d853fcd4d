/**
 * Puts a refusal's Retry-After and x-ratelimit-* headers on the 429 reply: the global exception
 * filter renders the body in the caller's dialect but knows nothing of headers. Register it on the
 * inference controllers (or globally with APP_INTERCEPTOR). Admitted requests put
 * `admission.headers` on the reply themselves, before a stream's first byte.
 */
import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { catchError, throwError, type Observable } from 'rxjs';
import { applyHeaders, QuotaExceededError } from './headers';

@Injectable()
export class QuotaHeadersInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      catchError((e: unknown) => {
        if (e instanceof QuotaExceededError && ctx.getType() === 'http') {
          const reply = ctx.switchToHttp().getResponse<FastifyReply>();
          if (!reply.sent) applyHeaders(reply, e.headers);
        }
        return throwError(() => e);
      }),
    );
  }
}
