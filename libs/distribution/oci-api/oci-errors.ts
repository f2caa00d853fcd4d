/**
 * Errors on /v2 in the OCI distribution shape (`{"errors":[{"code","message"}]}`), which registry
 * clients (Ollama's pull, docker-style tools) parse. Guard refusals (401/403) come through here too.
 */
import { ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { CorralError, describeError } from '@corral/common';

export type OciErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'RANGE_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'UNAVAILABLE'
  | 'INTERNAL';

/** An error with its OCI code and HTTP status. */
export class OciError extends Error {
  constructor(
    readonly status: number,
    readonly code: OciErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'OciError';
  }
}

export function ociBody(
  code: OciErrorCode,
  message: string,
): { errors: { code: string; message: string }[] } {
  return { errors: [{ code, message }] };
}

function codeFor(status: number, e: unknown): OciErrorCode {
  if (e instanceof CorralError && e.code === 'digest_mismatch') return 'DIGEST_INVALID';
  switch (status) {
    case 401:
      return 'UNAUTHORIZED';
    case 403:
      return 'DENIED';
    case 404:
      return 'NAME_UNKNOWN';
    case 413:
      return 'SIZE_INVALID';
    case 416:
      return 'RANGE_INVALID';
    case 429:
      return 'TOOMANYREQUESTS';
    case 503:
      return 'UNAVAILABLE';
    default:
      return status >= 500 ? 'INTERNAL' : 'UNSUPPORTED';
  }
}

@Catch()
export class OciExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    let status: number;
    let code: OciErrorCode;
    let message: string;
    if (exception instanceof OciError) {
      ({ status, code, message } = exception);
    } else {
      const d = describeError(exception);
      status = d.status;
      code = codeFor(status, exception);
      message =
        status >= 500 && d.code === 'internal'
          ? `internal error (request id ${reply.request.id})`
          : d.message;
      if (
        code === 'NAME_INVALID' ||
        (exception instanceof CorralError && exception.param === 'model' && status === 400)
      )
        code = 'NAME_INVALID';
    }
    if (reply.sent || reply.raw.headersSent) {
      if (!reply.raw.writableEnded) reply.raw.end();
      return;
    }
    void reply
      .status(status)
      .header('content-type', 'application/json; charset=utf-8')
      .send(ociBody(code, message));
  }
}
