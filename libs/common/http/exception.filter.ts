/**
 * The one place that turns errors into HTTP responses. Domain errors carry a code (CorralError);
 * Nest and Fastify errors carry a status. 500s carry the request id and never the internals.
 */
import { ArgumentsHost, Catch, HttpException, Logger, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CorralError } from '../errors';
import { dialectOf, errorBody } from './dialect';

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message: string;
}

export function describeError(e: unknown): {
  status: number;
  message: string;
  code?: string;
  param?: string;
} {
  if (e instanceof CorralError) return { status: e.status, message: e.message, code: e.code, param: e.param };
  if (e instanceof HttpException) {
    const status = e.getStatus();
    const res = e.getResponse();
    let message = e.message;
    if (typeof res === 'object' && res && 'message' in res) {
      const m = (res as { message: unknown }).message;
      message = Array.isArray(m) ? m.join('; ') : String(m);
    }
    // No OPTIONS route exists until a CORS layer adds preflight answers (it registers its own).
    if (status === 404 && /^Cannot OPTIONS /.test(message))
      return {
        status,
        message: 'OPTIONS is not supported here: cross-origin (CORS) requests are not enabled',
      };
    if (status === 404 && /^Cannot (GET|POST|PUT|DELETE|PATCH|HEAD)/.test(message))
      message = '404 page not found';
    return { status, message };
  }
  const fe = e as FastifyLikeError;
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return { status: 413, message: 'request body is too large', code: 'payload_too_large' };
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return { status: 415, message: fe.message, code: 'unsupported_media_type' };
    if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
      return { status: 400, message: 'request body is empty', code: 'bad_request' };
    if (e instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || /JSON/.test(fe.message)) {
      return { status: 400, message: `invalid JSON in request body: ${fe.message}`, code: 'bad_request' };
    }
    return { status: fe.statusCode, message: fe.message };
  }
  return { status: 500, message: 'internal error', code: 'internal' };
}

@Catch()
export class CorralExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const reply = ctx.getResponse<FastifyReply>();
    const req = ctx.getRequest<FastifyRequest>();
    const d = describeError(exception);
    if (d.status >= 500 && d.code === 'internal') {
      d.message = `internal error (request id ${req.id})`;
      this.logger.error(`request ${req.id} ${req.method} ${req.url} failed`, (exception as Error)?.stack);
    }
    if (reply.sent || reply.raw.headersSent) {
      // Streaming already began: the stream's own writer reports errors in-band.
      if (!reply.raw.writableEnded) reply.raw.end();
      return;
    }
    void reply
      .status(d.status)
      .header('content-type', 'application/json; charset=utf-8')
      .send(errorBody(dialectOf(req.url), d.status, d.message, d.code, d.param));
  }
}
