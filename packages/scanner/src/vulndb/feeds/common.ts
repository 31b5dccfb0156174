import type { FeedParseResult, FeedRecord } from '../model.js';

const MAX_REASONS = 50;

/** Accumulates a parser's output; `skip` records a malformed unit without aborting the feed. */
export class FeedCollector {
  readonly records: FeedRecord[] = [];
  skipped = 0;
  ignored = 0;
  units = 0;
  readonly skippedReasons: string[] = [];

  skip(where: string, reason: string): void {
    this.skipped++;
    if (this.skippedReasons.length < MAX_REASONS) this.skippedReasons.push(`${where}: ${reason}`);
  }

  /** Adds another collector's counts (used when one feed is read from several files). */
  merge(other: FeedParseResult): void {
    for (const r of other.records) this.records.push(r);
    this.skipped += other.skipped;
    this.ignored += other.ignored;
    this.units += other.units;
    for (const r of other.skippedReasons)
      if (this.skippedReasons.length < MAX_REASONS) this.skippedReasons.push(r);
  }

  result(): FeedParseResult {
    return {
      records: this.records,
      skipped: this.skipped,
      skippedReasons: this.skippedReasons,
      ignored: this.ignored,
      units: this.units,
    };
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** First line / sentence of a free text, trimmed to `max` characters. */
export function shortSummary(text: unknown, max = 200): string | undefined {
  if (typeof text !== 'string') return undefined;
  const line = text
    .trim()
    .split(/\n\s*\n/)[0]
    ?.replace(/\s+/g, ' ')
    .trim();
  if (!line) return undefined;
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

export function uniq<T>(items: Iterable<T>): T[] {
  return [...new Set(items)];
}

const CVE_RE = /^CVE-\d{4}-\d{4,}$/;
export function isCve(id: string): boolean {
  return CVE_RE.test(id);
}
