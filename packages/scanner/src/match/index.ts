import type { Ecosystem, InstalledPackage, PackageInventory, Severity } from '@palisade/protocol';
import { comparatorFor, normalizeVersion, type VersionCompare } from '../vulndb/compare.js';
import { pickCvss, severityFromScore } from '../vulndb/cvss.js';
import type { Advisory, AffectedRange, VulnDb } from '../vulndb/model.js';
import { SEVERITY_RANK, sectionKey } from '../vulndb/model.js';
import { normalizePackageName } from '../vulndb/names.js';
import { osReleaseKey } from '../vulndb/releases.js';

export interface Finding {
  vulnerabilityId: string;
  aliases: string[];
  package: { name: string; version: string; ecosystem: Ecosystem; purl: string };
  /** The version that fixes it; null when no fix is known (then `unfixed` is true, or the range ended in last_affected). */
  fixedVersion: string | null;
  unfixed: boolean;
  severity: Severity;
  /** Scored CVSS only (a v4 vector, which is not scored here, is left out). */
  cvss: { vector: string; score: number } | null;
  /** Feed of the record the finding's data comes from; `sources` lists every feed that matched. */
  source: string;
  sources: string[];
  summary?: string;
  /** How the package was matched: its own name, or its source package / origin (distros). */
  matchedBy: 'name' | 'source';
}

export interface MatchOptions {
  /** Also report RustSec informational advisories (unmaintained/unsound/notice). Default false. */
  includeInformational?: boolean;
  /** Called for versions a comparator could not read (the advisory is then not matched). */
  onWarning?: (message: string) => void;
  /** Comparator override (tests); defaults to ../versions per ecosystem. */
  compareFor?: (ecosystem: Ecosystem) => VersionCompare;
}

const DISTROS: ReadonlySet<Ecosystem> = new Set(['Debian', 'Alpine', 'Red Hat']);

interface Hit {
  advisory: Advisory;
  fixedVersion: string | null;
  unfixed: boolean;
  matchedBy: 'name' | 'source';
}

/**
 * Whether `version` is affected by `advisory`, and by which range. Semantics (OSV): a range is
 * introduced ≤ v < fixed, or introduced ≤ v ≤ last_affected, or introduced ≤ v; `versions[]` lists
 * affected versions explicitly. Not-affected records never match.
 * A range or listed version the comparator cannot read is passed over (reported to `onError`), so one
 * legacy version string in a feed's `versions[]` does not hide the rest of the advisory.
 */
export function affects(
  advisory: Advisory,
  version: string,
  compare: VersionCompare,
  onError?: (err: unknown) => void,
): { fixedVersion: string | null; unfixed: boolean } | null {
  if (advisory.notAffected) return null;
  const safe = (fn: () => boolean): boolean => {
    try {
      return fn();
    } catch (err) {
      onError?.(err);
      return false;
    }
  };
  const inRange = (r: AffectedRange): boolean =>
    (r.introduced === undefined || compare(version, r.introduced) >= 0) &&
    (r.fixed === undefined || compare(version, r.fixed) < 0) &&
    (r.lastAffected === undefined || compare(version, r.lastAffected) <= 0);
  for (const r of advisory.ranges) {
    if (safe(() => inRange(r)))
      return {
        fixedVersion: r.fixed ?? null,
        unfixed: r.fixed === undefined && r.lastAffected === undefined,
      };
  }
  const listed = advisory.versions;
  if (listed && (listed.includes(version) || listed.some((v) => safe(() => compare(v, version) === 0)))) {
    // Listed explicitly: the fix is the lowest `fixed` above it, if any range has one.
    const above = advisory.ranges
      .map((r) => r.fixed)
      .filter((f): f is string => f !== undefined && safe(() => compare(f, version) > 0));
    let lowest: string | undefined;
    for (const f of above)
      if (lowest === undefined || safe(() => compare(f, lowest as string) < 0)) lowest = f;
    return { fixedVersion: lowest ?? null, unfixed: lowest === undefined && advisory.unfixed };
  }
  return null;
}

/** Ids that identify one vulnerability (not bundles such as DSA/DLA/XSA, which group several CVEs). */
function linkKeys(a: Advisory): string[] {
  return [a.id, ...a.aliases.filter((x) => /^(CVE|GHSA|PYSEC|GO|RUSTSEC|OSV)-/.test(x))];
}

function recordRank(h: Hit): number {
  const a = h.advisory;
  return (
    (h.fixedVersion !== null ? 8 : 0) +
    (a.cvss && a.cvss.score !== null && !a.cvssFrom ? 4 : a.cvss && a.cvss.score !== null ? 2 : 0) +
    (a.summary ? 1 : 0)
  );
}

/** Merges the hits of one package that name the same vulnerability. */
function mergeHits(hits: Hit[], pkg: InstalledPackage, compare: VersionCompare): Finding[] {
  // Union-find over link keys.
  const parent = hits.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i] as number] as number;
      i = parent[i] as number;
    }
    return i;
  };
  const owner = new Map<string, number>();
  hits.forEach((h, i) => {
    for (const key of linkKeys(h.advisory)) {
      const j = owner.get(key);
      if (j === undefined) owner.set(key, i);
      else parent[find(i)] = find(j);
    }
  });
  const groups = new Map<number, Hit[]>();
  hits.forEach((h, i) => {
    const root = find(i);
    const g = groups.get(root);
    if (g) g.push(h);
    else groups.set(root, [h]);
  });
  const findings: Finding[] = [];
  for (const group of groups.values()) {
    const best = [...group].sort(
      (x, y) =>
        recordRank(y) - recordRank(x) ||
        x.advisory.id.localeCompare(y.advisory.id) ||
        x.advisory.source.localeCompare(y.advisory.source),
    )[0] as Hit;
    // Fixed version: the highest any matching record names (installing it satisfies every record).
    let fixedVersion: string | null = null;
    for (const h of group) {
      if (h.fixedVersion === null) continue;
      if (fixedVersion === null) fixedVersion = h.fixedVersion;
      else {
        try {
          if (compare(h.fixedVersion, fixedVersion) > 0) fixedVersion = h.fixedVersion;
        } catch {
          // keep the one we have
        }
      }
    }
    const scored = group
      .map((h) => h.advisory.cvss)
      .filter((c): c is NonNullable<typeof c> => c !== undefined && c.score !== null);
    const cvss = pickCvss(scored);
    let severity: Severity = cvss ? severityFromScore(cvss.score, cvss.version) : 'unknown';
    if (!cvss) {
      for (const h of group)
        if (SEVERITY_RANK[h.advisory.severity] > SEVERITY_RANK[severity]) severity = h.advisory.severity;
    }
    const id = best.advisory.id;
    const aliases = new Set<string>();
    for (const h of group)
      for (const x of [h.advisory.id, ...h.advisory.aliases]) if (x !== id) aliases.add(x);
    const finding: Finding = {
      vulnerabilityId: id,
      aliases: [...aliases].sort(),
      package: { name: pkg.name, version: pkg.version, ecosystem: pkg.ecosystem, purl: pkg.purl },
      fixedVersion,
      unfixed: fixedVersion === null && group.every((h) => h.unfixed),
      severity,
      cvss: cvss && cvss.score !== null ? { vector: cvss.vector, score: cvss.score } : null,
      source: best.advisory.source,
      sources: [...new Set(group.map((h) => h.advisory.source))].sort(),
      matchedBy: group.some((h) => h.matchedBy === 'source') ? 'source' : 'name',
    };
    const summary = best.advisory.summary ?? group.find((h) => h.advisory.summary)?.advisory.summary;
    if (summary) finding.summary = summary;
    findings.push(finding);
  }
  return findings;
}

/** Severity (most severe first), then vulnerability id, package name, version, purl. */
export function compareFindings(a: Finding, b: Finding): number {
  const s = SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity];
  if (s !== 0) return s;
  const cmp = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
  return (
    cmp(a.vulnerabilityId, b.vulnerabilityId) ||
    cmp(a.package.name, b.package.name) ||
    cmp(a.package.version, b.package.version) ||
    cmp(a.package.purl, b.package.purl)
  );
}

/**
 * Matches an inventory against the DB.
 * - Distro packages (Debian, Alpine): only when the image OS is that distro (os-release ID debian /
 *   alpine — an Ubuntu image's dpkg packages get no Debian advisories); within the OS release
 *   (Debian major from VERSION_ID or code name, Alpine "3.X"); looked up by source package / origin
 *   (compared with the source version) and by binary name (compared with the package version).
 * - Language packages: by ecosystem and normalized name, OSV range semantics.
 * The same vulnerability reached through several records (DSA and DLA, two sources, alias ids) is one
 * finding: aliases united, the highest fixed version, the best CVSS.
 */
export function matchInventory(inventory: PackageInventory, db: VulnDb, opts: MatchOptions = {}): Finding[] {
  const compareFor = opts.compareFor ?? comparatorFor;
  const comparators = new Map<Ecosystem, VersionCompare>();
  const comparator = (e: Ecosystem): VersionCompare => {
    let c = comparators.get(e);
    if (!c) {
      c = compareFor(e);
      comparators.set(e, c);
    }
    return c;
  };
  const distro = osReleaseKey(inventory.os);
  const findings: Finding[] = [];
  for (const pkg of inventory.packages) {
    const compare = comparator(pkg.ecosystem);
    const lookups: { name: string; version: string; matchedBy: 'name' | 'source'; section: string }[] = [];
    if (DISTROS.has(pkg.ecosystem)) {
      if (!distro || distro.ecosystem !== pkg.ecosystem) continue;
      const section = sectionKey(pkg.ecosystem, distro.release);
      if (pkg.sourceName)
        lookups.push({
          name: pkg.sourceName,
          version: pkg.sourceVersion ?? pkg.version,
          matchedBy: 'source',
          section,
        });
      if (pkg.name !== pkg.sourceName)
        lookups.push({ name: pkg.name, version: pkg.version, matchedBy: 'name', section });
    } else {
      lookups.push({
        name: normalizePackageName(pkg.ecosystem, pkg.name),
        version: normalizeVersion(pkg.ecosystem, pkg.version),
        matchedBy: 'name',
        section: sectionKey(pkg.ecosystem, ''),
      });
    }
    const hits: Hit[] = [];
    for (const look of lookups) {
      const advisories = db.sections.get(look.section)?.packages.get(look.name);
      if (!advisories) continue;
      for (const advisory of advisories) {
        if (advisory.informational && !opts.includeInformational) continue;
        let firstError: unknown;
        const hit = affects(advisory, look.version, compare, (err) => {
          firstError ??= err;
        });
        if (firstError !== undefined && !hit) {
          opts.onWarning?.(
            `${pkg.ecosystem} ${look.name} ${look.version} vs ${advisory.id}: ${
              firstError instanceof Error ? firstError.message : String(firstError)
            }`,
          );
        }
        if (hit) hits.push({ advisory, ...hit, matchedBy: look.matchedBy });
      }
    }
    if (hits.length > 0) findings.push(...mergeHits(hits, pkg, compare));
  }
  return findings.sort(compareFindings);
}
