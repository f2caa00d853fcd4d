/**
 * Errors Fastify and Node answer before any route runs, in the caller's dialect instead of
 * Fastify's `{"statusCode","error","message"}`:
 * - `frameworkErrors` (FastifyAdapter option): a path parameter over `maxParamLength` (414), a URL
 *   that does not decode (400);
 * - `clientErrorHandler` (FastifyAdapter option): requests Node's HTTP parser refuses (a NUL or
 *   other control character in a header, headers too large, a request that timed out). There is no
 *   request object then: the dialect comes from the request line in the bytes the parser saw.
 */
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { dialectOf, errorBody } from './dialect';
import { SECURITY_HEADERS } from './security-headers';

/** Fastify's default, kept: a longer path segment is refused with 414. */
export const MAX_PARAM_LENGTH = 100;

interface CodedError extends Error {
  code?: string;
  rawPacket?: Buffer;
}

export function describeFrameworkError(e: CodedError): { status: number; message: string; code: string } {
  switch (e.code ?? '') {
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return {
        status: 414,
        message: `request URL has a path segment longer than ${MAX_PARAM_LENGTH} characters`,
        code: 'uri_too_long',
      };
    case 'FST_ERR_BAD_URL':
      return { status: 400, message: 'request URL is not validly percent-encoded', code: 'bad_request' };
    default:
      return { status: 500, message: 'internal error', code: 'internal' };
  }
}

export function frameworkErrors(error: Error, req: FastifyRequest, reply: FastifyReply): void {
  const d = describeFrameworkError(error as CodedError);
  void reply
    .status(d.status)
    .headers({ ...SECURITY_HEADERS, 'x-request-id': String(req.id) })
    .header('content-type', 'application/json; charset=utf-8')
    .send(errorBody(dialectOf(req.url), d.status, d.message, d.code));
}

export function describeClientError(e: CodedError): { status: number; message: string; code: string } {
  switch (e.code ?? '') {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, message: 'the request took too long to arrive', code: 'request_timeout' };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: 'request headers are too large', code: 'headers_too_large' };
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_INVALID_HEADER_VALUE':
    case 'HPE_LF_EXPECTED':
    case 'HPE_CR_EXPECTED':
      return {
        status: 400,
        message:
          'a request header contains an invalid character (control characters such as NUL are not allowed in header names or values)',
        code: 'bad_request',
      };
    default:
      return {
        status: 400,
        message: `malformed HTTP request (${e.code ?? 'parse error'})`,
        code: 'bad_request',
      };
  }
}

/** The path of the request line in the bytes Node's parser refused, when it got that far. */
export function requestPathOf(raw: Buffer | undefined): string {
  const line = raw?.subarray(0, 8192).toString('latin1').split('\r\n', 1)[0] ?? '';
  return /^[A-Z]+ (\S+)/.exec(line)?.[1] ?? '/';
}

export function clientErrorHandler(error: Error, socket: Socket): void {
  const e = error as CodedError;
  // A reset connection has nobody left to answer.
  if (e.code === 'ECONNRESET' || socket.destroyed) return;
  const d = describeClientError(e);
  const body = JSON.stringify(errorBody(dialectOf(requestPathOf(e.rawPacket)), d.status, d.message, d.code));
  const headers = {
    ...SECURITY_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
  };
  if (socket.writable) {
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
    socket.write(`HTTP/1.1 ${d.status} ${STATUS_CODES[d.status]}\r\n${lines.join('')}\r\n${body}`);
  }
  socket.destroy(e);
}
