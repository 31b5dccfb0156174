import type { Ecosystem, Severity } from '@palisade/protocol';

/** Severity ratings (protocol's enum). `negligible` is used for a CVSS base score of 0.0 ("None"); `unknown` when no score is known. */
export type { Severity };

export const SEVERITY_RANK: Record<Severity, number> = {
  critical: 5,
  high: 4,
  medium: 3,
  low: 2,
  negligible: 1,
  unknown: 0,
};

export type CvssVersion = '2.0' | '3.0' | '3.1' | '4.0';

export interface Cvss {
  vector: string;
  version: CvssVersion;
  /** Base score; null when it cannot be computed (CVSS v4: parsed, not scored — see README). */
  score: number | null;
}

/**
 * One affected interval in the ecosystem's own version scheme (OSV semantics):
 * introduced ≤ v < fixed, or introduced ≤ v ≤ lastAffected, or introduced ≤ v when neither is set.
 * `introduced` absent means "from the first version" (OSV's "0").
 */
export interface AffectedRange {
  introduced?: string;
  fixed?: string;
  lastAffected?: string;
}

/** Why a record says "not affected" (kept so a consumer can explain it; such records never match). */
export type NotAffectedReason = 'distro-not-affected' | 'alpine-secfix-0';

export interface Advisory {
  /** Primary id: a CVE for distro records (DSA/DLA/secdb), the feed's own id for OSV/RustSec records. */
  id: string;
  aliases: string[];
  /** Affected intervals. Empty with `versions` empty and `unfixed` true means "every version". */
  ranges: AffectedRange[];
  /** Explicitly enumerated affected versions (OSV `versions[]`). */
  versions?: string[];
  /** The version that fixes it (distro records: the one fixed version; OSV: the highest `fixed` event). */
  fixedVersion?: string;
  /** True when at least one affected range has no upper bound (no fix known). */
  unfixed: boolean;
  /** Set on records that say the package is NOT affected (Debian <not-affected>, Alpine secfix "0"). */
  notAffected?: NotAffectedReason;
  /** RustSec informational advisories (unmaintained, unsound, notice): not vulnerabilities, not matched by default. */
  informational?: string;
  severity: Severity;
  cvss?: Cvss;
  /** Set when `cvss` was borrowed at build time from another feed's record naming the same CVE (its id). */
  cvssFrom?: string;
  summary?: string;
  /** Feed name, as in the manifest (alpine-secdb, debian-dsa, debian-dla, osv-pypi, osv-go, rustsec). */
  source: string;
  /** Feed-specific reference: DSA/DLA id, secdb repo, file name. */
  ref?: string;
  published?: string;
  /** Free-text note from the feed (Debian `<end-of-life>` and `(…)` remarks). */
  note?: string;
}

/** A normalized record as a parser emits it: advisory plus where it applies. */
export interface FeedRecord {
  ecosystem: Ecosystem;
  /** OS release for distro records ('11', '3.11'); '' for language ecosystems. */
  release: string;
  /** Package name as the feed spells it (source package for Debian, origin for Alpine). */
  package: string;
  advisory: Advisory;
}

export interface FeedParseResult {
  records: FeedRecord[];
  /** Units (advisories, files, entries) that were malformed and skipped, with a reason each (first 50 kept). */
  skipped: number;
  skippedReasons: string[];
  /** Units that were well-formed but deliberately left out (withdrawn advisories, announcements without packages). */
  ignored: number;
  /** Feed-level count of units read (files, advisories, DSA entries). */
  units: number;
}

export interface SourceManifest {
  name: string;
  path: string;
  licence: string;
  /** Input units read (files or list entries). */
  units: number;
  /** Normalized records produced. */
  records: number;
  skipped: number;
  ignored: number;
  skippedReasons: string[];
}

export interface DbManifest {
  format: 'palisade-vulndb';
  formatVersion: 1;
  builtAt: string;
  sources: SourceManifest[];
  counts: {
    sections: number;
    packages: number;
    advisories: number;
    byEcosystem: Partial<Record<Ecosystem, number>>;
  };
}

/** Section key: ecosystem + release ('' for language ecosystems). */
export function sectionKey(ecosystem: Ecosystem, release: string): string {
  return `${ecosystem}|${release}`;
}

export interface DbSection {
  ecosystem: Ecosystem;
  release: string;
  /** Normalized package name → advisories. */
  packages: Map<string, Advisory[]>;
}

export interface VulnDb {
  manifest: DbManifest;
  sections: Map<string, DbSection>;
}
