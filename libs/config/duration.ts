/**
 * Parses Ollama's keep_alive forms into milliseconds: a number (seconds), a numeric string
 * (seconds), or a Go duration string ("5m", "1h30m", "300ms", "-1s"). Negative means forever.
 * Returns undefined for anything else.
 */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value * 1000 : undefined;
  const s = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const m = /^(-)?((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)$/.exec(s);
  if (!m || !m[2]) return undefined;
  const unit: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  let total = 0;
  for (const part of m[2].matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(part[1]) * (unit[part[2] ?? 's'] ?? 0);
  }
  return m[1] ? -total : total;
}
