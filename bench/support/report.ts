/** The header every table carries (machine, commit, date) and markdown rendering. */
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, totalmem, release } from 'node:os';
import type { Row } from './context';

export interface Environment {
  date: string;
  commit: string;
  dirty: boolean;
  cpu: string;
  cores: number;
  ramGiB: number;
  gpu: string;
  os: string;
  node: string;
}

function tryRun(cmd: string, args: string[], cwd?: string): string | undefined {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

export function environment(repoRoot: string): Environment {
  const status = tryRun('git', ['status', '--porcelain'], repoRoot);
  return {
    date: new Date().toISOString(),
    commit: tryRun('git', ['rev-parse', '--short', 'HEAD'], repoRoot) ?? 'unknown',
    dirty: !!status,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    ramGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    gpu:
      tryRun('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'])?.split('\n').join(', ') ||
      'none (CPU only)',
    os: `${process.platform} ${release()}`,
    node: process.version,
  };
}

export function describeEnvironment(e: Environment): string {
  return (
    `machine: ${e.cpu}, ${e.cores} cores, ${e.ramGiB} GiB RAM, GPU: ${e.gpu}; ${e.os}, Node ${e.node}\n` +
    `commit: ${e.commit}${e.dirty ? ' (dirty)' : ''}; date: ${e.date}`
  );
}

/** Rows as a markdown table; columns are the union of the rows' keys in first-seen order. */
export function markdownTable(rows: Row[]): string {
  if (rows.length === 0) return '_(no rows)_';
  const cols: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  const cell = (v: unknown) => String(v ?? '').replace(/\|/g, '\\|');
  return [
    `| ${cols.join(' | ')} |`,
    `|${cols.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${cols.map((c) => cell(r[c])).join(' | ')} |`),
  ].join('\n');
}
