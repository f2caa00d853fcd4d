/**
 * `corral show MODEL`: Ollama's sectioned summary (Model, Capabilities, Parameters, System,
 * License; Metadata and Tensors with -v), or one raw field with --modelfile/--parameters/...
 */
import type { ShowResponse } from '../api-types';
import type { CorralClient } from '../client';
import { displayWidth, humanNumber, renderTable } from '../format';
import type { Out } from './models';

export type ShowField = 'license' | 'modelfile' | 'parameters' | 'system' | 'template';

function section(header: string, rows: string[][]): string {
  // Ollama: `fmt.Fprintln(w, " ", header)`, then a table whose first column is empty.
  return `  ${header}\n${renderTable(rows.map((r) => ['', ...r]))}\n`;
}

/** The first `n` non-empty lines, trimmed (System and License show only a preview). */
function head(text: string, n: number): string[][] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(0, n)
    .map((l) => [l]);
}

/** Go's %g for a float64, which is how Ollama prints numeric metadata. */
export function goFloat(n: number): string {
  if (n === 0 || !Number.isFinite(n)) return String(n);
  const [mantissa = '', expPart = '0'] = n.toExponential().split('e');
  const exp = Number(expPart);
  if (exp >= -4 && exp < 6) return String(n);
  return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

function metadataValue(v: unknown): string {
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return goFloat(v);
  if (Array.isArray(v)) {
    // As Ollama: as many items as fit in about 10 columns, then a count of the rest.
    let width = 1;
    let shown = 0;
    for (const [i, item] of v.entries()) {
      const w = displayWidth(String(item)) + (i > 0 ? 1 : 0);
      if (width + w > 10 && i > 0) break;
      width += w;
      shown++;
    }
    const items = v.slice(0, shown).map(String).join(' ');
    return shown < v.length ? `[${items} ...+${v.length - shown} more]` : `[${items}]`;
  }
  return typeof v;
}

export function renderShowInfo(resp: ShowResponse, verbose = false): string {
  const info = resp.model_info;
  const details = resp.details ?? {};
  const model: string[][] = [];
  const arch = typeof info?.['general.architecture'] === 'string' ? info['general.architecture'] : undefined;
  if (info && arch) {
    model.push(['architecture', arch]);
    const count = info['general.parameter_count'];
    const params = details.parameter_size || (typeof count === 'number' ? humanNumber(count) : '');
    model.push(['parameters', params]);
    const ctx = info[`${arch}.context_length`];
    if (typeof ctx === 'number') model.push(['context length', String(ctx)]);
    const emb = info[`${arch}.embedding_length`];
    if (typeof emb === 'number') model.push(['embedding length', String(emb)]);
  } else {
    model.push(['architecture', details.family ?? '']);
    model.push(['parameters', details.parameter_size ?? '']);
  }
  model.push(['quantization', details.quantization_level ?? '']);

  let out = section('Model', model);
  if (resp.capabilities?.length)
    out += section(
      'Capabilities',
      resp.capabilities.map((c) => [c]),
    );
  if (resp.projector_info && typeof resp.projector_info['general.architecture'] === 'string') {
    const p = resp.projector_info;
    const parch = p['general.architecture'] as string;
    const rows = [['architecture', parch]];
    if (typeof p['general.parameter_count'] === 'number')
      rows.push(['parameters', humanNumber(p['general.parameter_count'])]);
    const emb = p[`${parch}.vision.embedding_length`];
    if (typeof emb === 'number') rows.push(['embedding length', String(emb)]);
    const dim = p[`${parch}.vision.projection_dim`];
    if (typeof dim === 'number') rows.push(['dimensions', String(dim)]);
    out += section('Projector', rows);
  }
  if (resp.parameters) {
    const rows = resp.parameters
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .map((l) => {
        const m = /^(\S+)\s+(.*)$/.exec(l);
        return m ? [m[1] ?? '', m[2] ?? ''] : [l];
      });
    out += section('Parameters', rows);
  }
  if (resp.system) out += section('System', head(resp.system, 2));
  if (resp.license) out += section('License', head(resp.license, 2));
  if (verbose && info) {
    const keys = Object.keys(info).sort();
    out += section(
      'Metadata',
      keys.map((k) => [k, metadataValue(info[k])]),
    );
    if (resp.tensors?.length) {
      out += section(
        'Tensors',
        resp.tensors.map((t) => [t.name, t.type, `[${t.shape.join(' ')}]`]),
      );
    }
  }
  return out;
}

export interface ShowFlags {
  license?: boolean;
  modelfile?: boolean;
  parameters?: boolean;
  system?: boolean;
  template?: boolean;
  verbose?: boolean;
}

export async function showCommand(
  client: CorralClient,
  model: string,
  flags: ShowFlags,
  out: Out,
): Promise<void> {
  const fields = (['license', 'modelfile', 'parameters', 'system', 'template'] as const).filter(
    (f) => flags[f],
  );
  if (fields.length > 1) {
    throw new Error(
      "only one of '--license', '--modelfile', '--parameters', '--system', or '--template' can be specified",
    );
  }
  const resp = await client.show(model, flags.verbose ? { verbose: true } : {});
  const field = fields[0];
  if (!field) {
    out.write(renderShowInfo(resp, flags.verbose));
    return;
  }
  const value = resp[field] ?? '';
  // Ollama prints system and template without an added newline, the others with one.
  out.write(field === 'system' || field === 'template' ? value : value + '\n');
}
