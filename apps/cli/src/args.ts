import { ClusterName, Labels } from '@palisade/protocol';

/** A usage mistake: printed with the usage text, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Parses "90s", "30m", "12h", "7d" (or plain seconds) into seconds. */
export function parseDuration(text: string): number {
  const m = text.trim().match(/^(\d+)([smhd]?)$/);
  if (!m) throw new UsageError(`"${text}" is not a duration (use e.g. 30m, 12h, 7d)`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

export function parseClusterName(text: string | undefined): string {
  if (!text) throw new UsageError('a cluster name is required');
  const parsed = ClusterName.safeParse(text);
  if (!parsed.success) throw new UsageError(`"${text}": ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** Turns repeated `--label key=value` into a label map, validated like the API validates it. */
export function parseLabels(pairs: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`label "${pair}" must look like key=value`);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const parsed = Labels.safeParse(labels);
  if (!parsed.success) throw new UsageError(`invalid labels: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** Renders rows as an aligned text table. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
