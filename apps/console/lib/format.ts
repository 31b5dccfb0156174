const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];

/** "12 s ago", "in 59 min", "3 days ago". */
export function relativeTime(iso: string | null | undefined, now: number): string {
  if (!iso) return '—';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return '—';
  const diffS = Math.round((at - now) / 1000);
  const abs = Math.abs(diffS);
  if (abs < 5) return 'just now';
  for (const [unit, size] of UNITS) {
    if (abs >= size || unit === 'second') {
      const value = Math.trunc(diffS / size);
      return new Intl.RelativeTimeFormat('en', { numeric: 'always', style: 'short' }).format(value, unit);
    }
  }
  return '—';
}

/** A fixed, unambiguous timestamp: "2026-11-23 14:05:09 UTC". */
export function absoluteTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = n;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value >= 10 || i === 0 ? Math.round(value) : value.toFixed(1)} ${units[i]}`;
}

/** Labels as "k=v" strings in key order. */
export function labelPairs(labels: unknown): string[] {
  if (!labels || typeof labels !== 'object') return [];
  return Object.entries(labels as Record<string, unknown>)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${String(v)}`);
}

/**
 * Parses the label editor's text: one `key=value` per line or comma-separated. Returns the labels
 * or the first problem found, phrased for the user.
 */
export function parseLabels(text: string): { labels: Record<string, string> } | { error: string } {
  const labels: Record<string, string> = {};
  const parts = text
    .split(/[\n,]/)
    .map((p) => p.trim())
    .filter(Boolean);
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0) return { error: `"${part}" is not key=value` };
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key in labels) return { error: `label "${key}" appears twice` };
    labels[key] = value;
  }
  return { labels };
}

/** "Debian GNU/Linux 12 (bookworm)" already names its version; "Alpine Linux" + "3.20" does not. */
export function osLabel(osName: string, osVersion: string): string {
  if (!osVersion || osName.includes(osVersion)) return osName || '—';
  return `${osName} ${osVersion}`;
}
