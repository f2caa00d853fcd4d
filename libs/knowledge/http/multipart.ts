/**
 * Multipart uploads for /v1/files. The gateway's one body parser refuses multipart/form-data
 * (415); @fastify/multipart adds a parser for that type only, which does not read the body: the
 * route streams the parts itself, so a file is counted as it arrives and refused (413) the moment
 * it passes the cap, never buffered beyond it.
 */
import type { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CorralError } from '@corral/common';

/** The default cap on one uploaded file (CORRAL_KB_MAX_FILE_BYTES). */
export const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;

/** Bytes of multipart framing (boundaries, part headers, small fields) allowed beyond the file. */
const FRAMING_SLACK = 64 * 1024;

/**
 * Registers multipart/form-data parsing on the gateway (after installBodyParser, which removes
 * every parser). Busboy's own limits are a backstop; readUpload enforces the configured cap.
 */
export async function registerMultipart(
  app: FastifyInstance,
  maxFileBytes = DEFAULT_MAX_FILE_BYTES,
): Promise<void> {
  await app.register(multipart, {
    limits: {
      // One byte over the cap, so readUpload sees the excess and answers with the cap in its message.
      fileSize: maxFileBytes + 1,
      files: 1,
      fields: 16,
      parts: 32,
      fieldSize: 16 * 1024,
      fieldNameSize: 100,
      headerPairs: 100,
    },
  });
}

export interface Upload {
  filename: string;
  bytes: Buffer;
  /** The form's text fields (first value of each). */
  fields: Record<string, string>;
}

const tooLarge = (max: number) =>
  new CorralError('payload_too_large', `the file is larger than the limit of ${max} bytes`, 'file');

/** Reads one file stream into memory up to `max` bytes; one byte more and it stops with a 413. */
async function readCapped(stream: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      stream.destroy();
      throw tooLarge(max);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/**
 * The multipart body of `req`: exactly one file part named `fileField`, and the text fields. A
 * missing file part, a second file or a body that is not multipart is a 400 naming the field.
 */
export async function readUpload(req: FastifyRequest, max: number, fileField = 'file'): Promise<Upload> {
  if (typeof req.isMultipart !== 'function' || !req.isMultipart())
    throw new CorralError(
      'bad_request',
      `the upload must be multipart/form-data with a '${fileField}' part`,
      fileField,
    );
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max + FRAMING_SLACK) throw tooLarge(max);
  const fields: Record<string, string> = {};
  let file: { filename: string; bytes: Buffer } | undefined;
  try {
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== fileField || file) {
          part.file.resume();
          throw new CorralError(
            'bad_request',
            part.fieldname !== fileField
              ? `unexpected file part '${part.fieldname.slice(0, 100)}': send the file as '${fileField}'`
              : `send one file per request in '${fileField}'`,
            part.fieldname,
          );
        }
        const bytes = await readCapped(part.file, max);
        if (part.file.truncated) throw tooLarge(max);
        file = { filename: part.filename, bytes };
      } else if (fields[part.fieldname] === undefined) {
        fields[part.fieldname] = typeof part.value === 'string' ? part.value : String(part.value);
      }
    }
  } catch (e) {
    if (e instanceof CorralError) throw e;
    const err = e as { code?: string; statusCode?: number; message?: string };
    if (err.code === 'FST_REQ_FILE_TOO_LARGE') throw tooLarge(max);
    if (err.code === 'FST_FILES_LIMIT' || err.code === 'FST_PARTS_LIMIT' || err.code === 'FST_FIELDS_LIMIT')
      throw new CorralError('bad_request', 'the form has too many parts: send one file and its purpose');
    throw new CorralError('bad_request', `malformed multipart body: ${err.message ?? 'unreadable'}`);
  }
  if (!file)
    throw new CorralError(
      'bad_request',
      `'${fileField}' is required: add the file as a form part`,
      fileField,
    );
  return { ...file, fields };
}
