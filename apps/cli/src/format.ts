/**
 * Text formatting shared by the verbs. Each function reproduces the output of the matching helper
 * in Ollama's `format` package or `api.Metrics.Summary`, so scripts and eyes used to `ollama`
 * read `corral` the same way.
 */

const KB = 1000;
const MB = KB * 1000;
const GB = MB * 1000;
const TB = GB * 1000;

/** Decimal sizes: "512 B", "1.2 MB", "27 GB" (Ollama drops the decimal from 10 upwards). */
export function humanBytes(bytes: number): string {
  const units: [number, string][] = [
    [TB, 'TB'],
    [GB, 'GB'],
    [MB, 'MB'],
    [KB, 'KB'],
  ];
  for (const [size, unit] of units) {
    if (bytes < size) continue;
    const value = bytes / size;
    if (value >= 10) return `${Math.trunc(value)} ${unit}`;
    return value !== Math.trunc(value) ? `${value.toFixed(1)} ${unit}` : `${value} ${unit}`;
  }
  return `${Math.trunc(bytes)} B`;
}

/** Parameter counts: "8B", "7.2B", "494.03M", "260K". */
export function humanNumber(n: number): string {
  if (n >= 1e9) {
    const v = n / 1e9;
    return v === Math.floor(v) ? `${v}B` : `${v.toFixed(1)}B`;
  }
  if (n >= 1e6) {
    const v = n / 1e6;
    return v === Math.floor(v) ? `${v}M` : `${v.toFixed(2)}M`;
  }
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)}K`;
  return String(Math.trunc(n));
}

function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(hours / 24 / 365)} years`;
}

/**
 * Relative time as Ollama prints it: "2 minutes ago", "4 minutes from now", "Forever" (more than
 * 20 years ahead: a model kept alive indefinitely), `zero` for a missing or Go zero time.
 */
export function humanTime(t: string | Date | undefined | null, zero: string, now: Date = new Date()): string {
  if (!t) return zero;
  const date = t instanceof Date ? t : new Date(t);
  // Go's zero time (0001-01-01) is what Ollama servers send for "never".
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() <= 1) return zero;
  const delta = now.getTime() - date.getTime();
  if (Math.trunc(delta / 3_600_000 / 24 / 365) < -20) return 'Forever';
  if (delta < 0) return `${humanDuration(-delta)} from now`;
  return `${humanDuration(delta)} ago`;
}

/** The PROCESSOR column of `ps`: where the model's bytes live. */
export function processorColumn(size: number, sizeVram: number): string {
  if (sizeVram === 0) return '100% CPU';
  if (sizeVram === size) return '100% GPU';
  if (sizeVram > size || size === 0) return 'Unknown';
  const cpu = Math.round(((size - sizeVram) / size) * 100);
  return `${cpu}%/${100 - cpu}% CPU/GPU`;
}

function trimFraction(digits: string): string {
  return digits.replace(/0+$/, '');
}

/** Go's time.Duration.String() for a count of nanoseconds: "1.5s", "2m3.25s", "345.2ms", "12µs". */
export function goDuration(nanoseconds: number): string {
  const ns = Math.round(nanoseconds);
  if (ns === 0) return '0s';
  const neg = ns < 0 ? '-' : '';
  const u = Math.abs(ns);
  const frac = (value: number, scale: number, unit: string) => {
    const whole = Math.trunc(value / scale);
    const rest = trimFraction(String(value % scale).padStart(String(scale).length - 1, '0'));
    return `${neg}${whole}${rest ? `.${rest}` : ''}${unit}`;
  };
  if (u < 1e3) return `${neg}${u}ns`;
  if (u < 1e6) return frac(u, 1e3, 'µs');
  if (u < 1e9) return frac(u, 1e6, 'ms');
  const totalSeconds = Math.trunc(u / 1e9);
  const hours = Math.trunc(totalSeconds / 3600);
  const minutes = Math.trunc((totalSeconds % 3600) / 60);
  const seconds = frac(u % 6e10, 1e9, 's').replace(/^-/, '');
  if (hours > 0) return `${neg}${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${neg}${minutes}m${seconds}`;
  return `${neg}${seconds}`;
}

/** The nanosecond counters on the final chunk of a generate/chat stream. */
export interface GenerationMetrics {
  total_duration?: number;
  load_duration?: number;
  prompt_eval_count?: number;
  prompt_eval_duration?: number;
  eval_count?: number;
  eval_duration?: number;
}

/** The block `--verbose` prints after an answer (api.Metrics.Summary); lines end with "\n". */
export function verboseStats(m: GenerationMetrics): string {
  const lines: string[] = [];
  const rate = (count: number, ns: number) => `${(count / (ns / 1e9)).toFixed(2)} tokens/s`;
  if (m.total_duration && m.total_duration > 0)
    lines.push(`total duration:       ${goDuration(m.total_duration)}`);
  if (m.load_duration && m.load_duration > 0)
    lines.push(`load duration:        ${goDuration(m.load_duration)}`);
  if (m.prompt_eval_count && m.prompt_eval_count > 0)
    lines.push(`prompt eval count:    ${m.prompt_eval_count} token(s)`);
  if (m.prompt_eval_duration && m.prompt_eval_duration > 0) {
    lines.push(`prompt eval duration: ${goDuration(m.prompt_eval_duration)}`);
    lines.push(`prompt eval rate:     ${rate(m.prompt_eval_count ?? 0, m.prompt_eval_duration)}`);
  }
  if (m.eval_count && m.eval_count > 0) lines.push(`eval count:           ${m.eval_count} token(s)`);
  if (m.eval_duration && m.eval_duration > 0) {
    lines.push(`eval duration:        ${goDuration(m.eval_duration)}`);
    lines.push(`eval rate:            ${rate(m.eval_count ?? 0, m.eval_duration)}`);
  }
  return lines.map((l) => l + '\n').join('');
}

/**
 * A borderless table the way Ollama configures tablewriter: left-aligned columns separated by
 * `padding`, trailing blanks trimmed. Returns lines joined with "\n" plus a final newline.
 */
export function renderTable(rows: string[][], padding = '    '): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, displayWidth(cell));
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell + ' '.repeat((widths[i] ?? 0) - displayWidth(cell)))
        .join(padding)
        .trimEnd(),
    )
    .map((line) => line + '\n')
    .join('');
}

/** Terminal columns a string takes: wide (CJK, emoji) characters count two. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += charWidth(ch.codePointAt(0) ?? 0);
  return w;
}

export function charWidth(cp: number): number {
  if (cp === 0 || (cp >= 0x300 && cp <= 0x36f) || cp === 0x200d) return 0;
  const wide =
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd);
  return wide ? 2 : 1;
}
