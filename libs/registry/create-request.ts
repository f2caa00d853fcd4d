/**
 * The /api/create body as Ollama takes it today (`from` / `files` / `adapters` plus typed fields),
 * and the legacy form (`modelfile` text or a server-side `path` to one), folded into one plan.
 */
import { homedir } from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { CorralError } from '@corral/common';
import { admitServerPath, looksLikeServerPath, readAdmittedModelfile, realImportDirs } from './import-paths';
import { ModelfileError, parseModelfile } from './modelfile';
import type { Modelfile } from './types';
import { coerceParameters } from './parameters';
import { parseQuantizationType } from './quantize';

const message = z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() });

export const createModelRequestSchema = z.object({
  model: z.string().optional(),
  /** Deprecated spelling of `model`, still sent by old clients. */
  name: z.string().optional(),
  /** Name of an existing model to build on. */
  from: z.string().optional(),
  /** File name → digest of an uploaded blob (POST /api/blobs/:digest). */
  files: z.record(z.string(), z.string()).optional(),
  adapters: z.record(z.string(), z.string()).optional(),
  template: z.string().optional(),
  license: z.union([z.string(), z.array(z.string())]).optional(),
  system: z.string().optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  messages: z.array(message).optional(),
  quantize: z.string().optional(),
  /** Deprecated spelling of `quantize`. */
  quantization: z.string().optional(),
  /** Corral extension: quantize even when the model's weights are already quantized. Defaults to false. */
  allow_requantize: z.boolean().optional(),
  stream: z.boolean().optional(),
  /** Legacy: Modelfile text. FROM/ADAPTER paths on the server's disk are refused unless inside CORRAL_IMPORT_DIRS. */
  modelfile: z.string().optional(),
  /** Legacy: path of a Modelfile on the server's disk; refused unless inside CORRAL_IMPORT_DIRS. */
  path: z.string().optional(),
});

export type CreateModelRequest = z.infer<typeof createModelRequestSchema>;

/** What to build, after the legacy Modelfile has been read and merged. */
export interface CreatePlan {
  model: string;
  from?: string;
  files?: Record<string, string>;
  /** GGUF files on this machine (legacy FROM path). */
  localFiles?: string[];
  adapters?: Record<string, string>;
  localAdapters?: string[];
  template?: string;
  system?: string;
  license?: string[];
  parameters?: Record<string, unknown>;
  messages?: { role: 'system' | 'user' | 'assistant'; content: string }[];
  /** A Hugging Face checkpoint directory on this machine (legacy `FROM ./dir`). */
  localCheckpoint?: string;
  /** Quantization type for the model layer, e.g. q4_K_M. */
  quantize?: string;
  allowRequantize?: boolean;
}

export function parseCreateRequest(body: unknown): CreateModelRequest {
  const r = createModelRequestSchema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.length ? `'${issue.path.join('.')}'` : 'body';
    throw new CorralError(
      'bad_request',
      `invalid create request: ${where} ${issue?.message ?? 'is malformed'}`,
      issue?.path[0]?.toString(),
    );
  }
  return r.data;
}

/** Expands `~` and relative paths the way Ollama's CLI does, relative to the Modelfile's folder. */
function expandPath(p: string, baseDir: string): string {
  if (p === '~' || p.startsWith('~/')) return path.join(homedir(), p.slice(1));
  return path.resolve(baseDir, p);
}

/** What the gateway allows of server-side paths in a create request. */
export interface PlanOptions {
  /**
   * Directories the legacy `path`, `FROM <path>` and `ADAPTER <path>` may read from (CORRAL_IMPORT_DIRS).
   * Defaults to none: every server path is refused.
   */
  importDirs?: readonly string[];
}

/** Folds a request (legacy fields included) into a plan. Explicit JSON fields win over the Modelfile. */
export async function planCreate(req: CreateModelRequest, opts: PlanOptions = {}): Promise<CreatePlan> {
  const model = req.model ?? req.name;
  if (!model) throw new CorralError('bad_request', 'model name is required', 'model');
  const plan: CreatePlan = {
    model,
    from: req.from,
    files: req.files,
    adapters: req.adapters,
    template: req.template,
    system: req.system,
    license:
      req.license === undefined ? undefined : typeof req.license === 'string' ? [req.license] : req.license,
    parameters: req.parameters === undefined ? undefined : coerceParameters(req.parameters),
    messages: req.messages,
    quantize: req.quantize ?? req.quantization,
    allowRequantize: req.allow_requantize,
  };
  if (plan.quantize !== undefined) parseQuantizationType(plan.quantize);
  if (req.modelfile === undefined && req.path === undefined) return plan;

  // Import directories are resolved only when some server path is asked for.
  let realDirs: string[] | undefined;
  const dirs = async () => (realDirs ??= await realImportDirs(opts.importDirs ?? []));

  let text = req.modelfile;
  let baseDir = process.cwd();
  if (text === undefined && req.path !== undefined) {
    const d = await dirs();
    const { real } = await admitServerPath(path.resolve(req.path), 'path', d, { file: true });
    text = await readAdmittedModelfile(real, d);
    baseDir = path.dirname(real);
    try {
      return await fold(plan, parseModelfile(text), baseDir, dirs);
    } catch (e) {
      // The file is the server's, not the caller's: its lines are never quoted back.
      if (e instanceof ModelfileError)
        throw new CorralError(
          'invalid_modelfile',
          `'path': not a valid Modelfile${e.line ? ` (line ${e.line})` : ''}`,
          'path',
        );
      throw e;
    }
  }
  return fold(plan, parseModelfile(text ?? ''), baseDir, dirs);
}

async function fold(
  plan: CreatePlan,
  mf: Modelfile,
  baseDir: string,
  dirs: () => Promise<string[]>,
): Promise<CreatePlan> {
  if (!plan.from && !plan.files) {
    if (looksLikeServerPath(mf.from)) {
      const { real, isDir } = await admitServerPath(expandPath(mf.from, baseDir), 'FROM', await dirs(), {
        file: true,
        dir: true,
      });
      if (isDir) plan.localCheckpoint = real;
      else plan.localFiles = [real];
    } else plan.from = mf.from;
  }
  if (mf.adapters.length && !plan.adapters) {
    plan.localAdapters = [];
    for (const a of mf.adapters) {
      const { real } = await admitServerPath(expandPath(a, baseDir), 'ADAPTER', await dirs(), { file: true });
      plan.localAdapters.push(real);
    }
  }
  plan.template ??= mf.template;
  plan.system ??= mf.system;
  if (!plan.license && mf.license.length) plan.license = mf.license;
  if (!plan.messages && mf.messages.length) plan.messages = mf.messages;
  if (Object.keys(mf.parameters).length) plan.parameters = { ...mf.parameters, ...plan.parameters };
  return plan;
}
