/** Vulnerability vocabulary shared by the Vulnerabilities pages (no React here). */

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function isSeverity(value: string): value is Severity {
  return (SEVERITIES as readonly string[]).includes(value);
}

/** Higher is worse; unknown severities sort last. */
export function severityRank(severity: string): number {
  const i = SEVERITIES.indexOf(severity as Severity);
  return i < 0 ? 0 : SEVERITIES.length - i;
}

export function severityLabel(severity: string): string {
  return severity ? severity[0]?.toUpperCase() + severity.slice(1) : 'Unknown';
}

/** Per-severity counts in the shape the reports carry them. */
export interface SeverityCounts {
  critical: number;
  high: number;
  medium: number;
  low: number;
  negligible: number;
  unknown: number;
}

export interface AdvisoryLink {
  label: string;
  href: string;
}

/**
 * Where to read about a vulnerability: NVD for CVEs, osv.dev for the ecosystems it is the home of,
 * Debian's tracker for Debian advisories. Identifiers from elsewhere get no link.
 */
export function advisoryLinks(id: string): AdvisoryLink[] {
  const enc = encodeURIComponent(id);
  if (/^CVE-\d{4}-\d+$/i.test(id)) {
    return [{ label: 'NVD', href: `https://nvd.nist.gov/vuln/detail/${enc}` }];
  }
  if (/^(GHSA|PYSEC|GO|RUSTSEC|OSV)-/i.test(id)) {
    return [{ label: 'osv.dev', href: `https://osv.dev/vulnerability/${enc}` }];
  }
  if (/^(DSA|DLA)-/i.test(id)) {
    return [{ label: 'Debian security tracker', href: `https://security-tracker.debian.org/tracker/${enc}` }];
  }
  return [];
}

export function cvePath(id: string): string {
  return `/vulnerabilities/cve/${encodeURIComponent(id)}`;
}

export function reportPath(reportId: string): string {
  return `/vulnerabilities/reports/${reportId}`;
}

/** "sha256:4f1c…9a2e" → "sha256:4f1c9a2e7b3d" (the first 12 hex digits, like container IDs). */
export function shortDigest(digest: string | null | undefined): string {
  if (!digest) return '—';
  const [algo, hex] = digest.includes(':') ? digest.split(':', 2) : ['', digest];
  return `${algo ? `${algo}:` : ''}${(hex ?? '').slice(0, 12)}`;
}

/** Milliseconds as "850 ms", "4.2 s", "2 min 5 s". */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const min = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s ? `${min} min ${s} s` : `${min} min`;
}

/** The cluster a report is filed under, in words: registry scans may belong to the hub as a whole. */
export function clusterLabel(cluster: string | null | undefined): string {
  return !cluster || cluster === '(hub)' ? 'hub-wide' : cluster;
}
