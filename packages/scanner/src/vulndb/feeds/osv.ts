import type { Ecosystem } from '@palisade/protocol';
import { parse as parseYaml } from 'yaml';
import { pickCvss, severityFromScore, tryParseCvss } from '../cvss.js';
import type { Advisory, AffectedRange, Cvss, FeedParseResult } from '../model.js';
import { alpineRelease } from '../releases.js';
import { errorMessage, FeedCollector, shortSummary, uniq } from './common.js';

/**
 * OSV records (https://ossf.github.io/osv-schema/), JSON (golang/vulndb) or YAML (pypa/advisory-database).
 * One record per `affected[]` entry. Used fields: id, aliases, summary/details, published, withdrawn,
 * severity[] (CVSS_V2/V3/V4 vectors, top level or per affected entry), affected[].package.{ecosystem,name},
 * affected[].ranges[] of type ECOSYSTEM or SEMVER (GIT ranges hold commit hashes and are ignored —
 * their versions are normally also listed in `versions[]`), affected[].versions[].
 * Withdrawn records are counted as ignored; an affected entry of an ecosystem Palisade does not know
 * (or with nothing usable in it) is skipped and counted.
 */

export type VersionCompare = (a: string, b: string) => number;

const ECOSYSTEMS: ReadonlySet<string> = new Set([
  'Debian',
  'Alpine',
  'Red Hat',
  'npm',
  'PyPI',
  'Maven',
  'Go',
  'crates.io',
]);

/** 'PyPI' → PyPI/''; 'Debian:11' → Debian/'11'; 'Alpine:v3.16' → Alpine/'3.16'; undefined when unknown. */
export function osvEcosystem(raw: string): { ecosystem: Ecosystem; release: string } | undefined {
  const [base, ...suffix] = raw.split(':');
  if (!base || !ECOSYSTEMS.has(base)) return undefined;
  const rest = suffix.join(':');
  const ecosystem = base as Ecosystem;
  if (ecosystem === 'Alpine') return rest ? { ecosystem, release: alpineRelease(rest) } : undefined;
  if (ecosystem === 'Debian' || ecosystem === 'Red Hat')
    return rest ? { ecosystem, release: rest } : undefined;
  return { ecosystem, release: '' };
}

interface OsvEvent {
  introduced?: unknown;
  fixed?: unknown;
  last_affected?: unknown;
  limit?: unknown;
}

/**
 * Turns an OSV event list into intervals.
 *
 * Producers write events as consecutive (introduced, fixed | last_affected) pairs, one pair per
 * interval, and the affected set is their union. That reading is used whenever the list has this
 * shape, in any pair order: the PyPI feed has lists such as [introduced 2.11, fixed 2.11.7,
 * introduced 0, fixed 2.11.6] (PYSEC-2021-114) whose pairs overlap, where sorting all events first
 * (the schema's evaluation algorithm) would drop part of an interval.
 * A list without that shape (an end before any introduced, two introduced in a row) is sorted with
 * `compare` and walked (ends before introduced at equal versions); without a comparator it is an error.
 */
export function eventsToRanges(events: OsvEvent[], compare?: VersionCompare): AffectedRange[] | string {
  type Ev = { kind: 'introduced' | 'fixed' | 'last_affected'; version: string };
  const list: Ev[] = [];
  for (const e of events) {
    if (!e || typeof e !== 'object') return 'event is not an object';
    const keys = (['introduced', 'fixed', 'last_affected'] as const).filter((k) => e[k] !== undefined);
    if (keys.length === 0 && e.limit !== undefined) continue; // limit: only meaningful for GIT
    if (keys.length !== 1) return `event with ${keys.length} kinds`;
    const kind = keys[0] as Ev['kind'];
    const version = String(e[kind]).trim();
    if (version === '') return `empty ${kind}`;
    list.push({ kind, version });
  }
  const walk = (sequence: Ev[], strict: boolean): AffectedRange[] | undefined => {
    const ranges: AffectedRange[] = [];
    let open: AffectedRange | undefined;
    for (const ev of sequence) {
      if (ev.kind === 'introduced') {
        if (open) {
          if (strict) return undefined;
          continue; // already inside an affected interval
        }
        open = ev.version === '0' ? {} : { introduced: ev.version };
        ranges.push(open);
      } else {
        if (!open) {
          if (strict) return undefined;
          continue; // an end with nothing open: redundant once sorted
        }
        if (ev.kind === 'fixed') open.fixed = ev.version;
        else open.lastAffected = ev.version;
        open = undefined;
      }
    }
    return ranges;
  };
  const paired = walk(list, true);
  if (paired) return paired;
  if (!compare) return 'events are not (introduced, end) pairs and no comparator was given to sort them';
  const isZero = (ev: Ev): boolean => ev.kind === 'introduced' && ev.version === '0';
  let sorted: Ev[];
  try {
    sorted = [...list].sort((a, b) => {
      if (isZero(a) || isZero(b)) return isZero(a) === isZero(b) ? 0 : isZero(a) ? -1 : 1;
      return (
        compare(a.version, b.version) || (a.kind === 'introduced' ? 1 : 0) - (b.kind === 'introduced' ? 1 : 0)
      );
    });
  } catch (err) {
    return `cannot sort events: ${errorMessage(err)}`;
  }
  if (sorted[0]?.kind !== 'introduced')
    return `${sorted[0]?.kind} ${sorted[0]?.version} before any introduced`;
  return walk(sorted, false) as AffectedRange[];
}

function cvssFrom(severity: unknown): Cvss[] {
  if (!Array.isArray(severity)) return [];
  const out: Cvss[] = [];
  for (const s of severity) {
    if (!s || typeof s !== 'object') continue;
    const { type, score } = s as { type?: unknown; score?: unknown };
    if (typeof type !== 'string' || typeof score !== 'string' || !type.startsWith('CVSS_')) continue;
    const parsed = tryParseCvss(score);
    if (parsed) out.push(parsed);
  }
  return out;
}

export interface OsvParseOptions {
  /** Comparator per ecosystem, used to sort events. */
  compareFor?: (ecosystem: Ecosystem) => VersionCompare | undefined;
  source: string;
}

/** Parses one OSV document (already decoded). Adds records/skips to `out`. */
export function collectOsv(doc: unknown, file: string, out: FeedCollector, opts: OsvParseOptions): void {
  out.units++;
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    out.skip(file, 'not an object');
    return;
  }
  const r = doc as Record<string, unknown>;
  if (typeof r.id !== 'string' || r.id === '') {
    out.skip(file, 'no id');
    return;
  }
  const id = r.id;
  if (r.withdrawn !== undefined && r.withdrawn !== null && r.withdrawn !== '') {
    out.ignored++;
    return;
  }
  if (!Array.isArray(r.affected) || r.affected.length === 0) {
    out.skip(`${file} ${id}`, 'no affected[]');
    return;
  }
  const aliases = Array.isArray(r.aliases)
    ? uniq(r.aliases.filter((a): a is string => typeof a === 'string'))
    : [];
  const summary = shortSummary(r.summary) ?? shortSummary(r.details);
  const published = typeof r.published === 'string' ? r.published : undefined;
  const topCvss = cvssFrom(r.severity);
  for (const [i, a] of r.affected.entries()) {
    const where = `${file} ${id} affected[${i}]`;
    if (!a || typeof a !== 'object') {
      out.skip(where, 'not an object');
      continue;
    }
    const aff = a as Record<string, unknown>;
    const pkg = aff.package as { ecosystem?: unknown; name?: unknown } | undefined;
    if (!pkg || typeof pkg.name !== 'string' || pkg.name === '' || typeof pkg.ecosystem !== 'string') {
      out.skip(where, 'no package name/ecosystem');
      continue;
    }
    const eco = osvEcosystem(pkg.ecosystem);
    if (!eco) {
      out.skip(where, `unsupported ecosystem ${JSON.stringify(pkg.ecosystem)}`);
      continue;
    }
    const compare = opts.compareFor?.(eco.ecosystem);
    const ranges: AffectedRange[] = [];
    let error: string | undefined;
    for (const range of Array.isArray(aff.ranges) ? aff.ranges : []) {
      const { type, events } = (range ?? {}) as { type?: unknown; events?: unknown };
      if (type === 'GIT') continue;
      if (type !== 'ECOSYSTEM' && type !== 'SEMVER') {
        error = `range type ${String(type)}`;
        break;
      }
      if (!Array.isArray(events)) {
        error = 'range without events';
        break;
      }
      const got = eventsToRanges(events as OsvEvent[], compare);
      if (typeof got === 'string') {
        error = got;
        break;
      }
      ranges.push(...got);
    }
    if (error) {
      out.skip(where, error);
      continue;
    }
    const versions = Array.isArray(aff.versions)
      ? uniq(
          aff.versions
            .filter((v): v is string | number => typeof v === 'string' || typeof v === 'number')
            .map(String),
        )
      : [];
    if (ranges.length === 0 && versions.length === 0) {
      out.skip(where, 'no ECOSYSTEM/SEMVER range and no versions');
      continue;
    }
    const cvss = pickCvss([...cvssFrom(aff.severity), ...topCvss]);
    const fixes = ranges.map((x) => x.fixed).filter((x): x is string => x !== undefined);
    let fixedVersion: string | undefined;
    if (fixes.length > 0) {
      fixedVersion = fixes[fixes.length - 1];
      if (compare) {
        try {
          fixedVersion = [...fixes].sort(compare).pop();
        } catch {
          // keep the feed's last one
        }
      }
    }
    const advisory: Advisory = {
      id,
      aliases,
      ranges,
      unfixed: ranges.some((x) => x.fixed === undefined && x.lastAffected === undefined),
      severity: cvss ? severityFromScore(cvss.score, cvss.version) : 'unknown',
      source: opts.source,
      ref: file,
    };
    if (versions.length > 0) advisory.versions = versions;
    if (fixedVersion !== undefined) advisory.fixedVersion = fixedVersion;
    if (cvss) advisory.cvss = cvss;
    if (summary) advisory.summary = summary;
    if (published) advisory.published = published;
    out.records.push({ ecosystem: eco.ecosystem, release: eco.release, package: pkg.name, advisory });
  }
}

/** Parses one OSV file's text. `format` follows the file extension. */
export function parseOsvText(
  text: string,
  format: 'json' | 'yaml',
  file: string,
  opts: OsvParseOptions,
  out: FeedCollector = new FeedCollector(),
): FeedParseResult {
  let doc: unknown;
  try {
    // YAML failsafe schema: every scalar stays a string, so an unquoted version such as 1.10 is
    // not turned into the number 1.1 (the PyPI files quote most, not all, such versions).
    doc = format === 'json' ? JSON.parse(text) : parseYaml(text, { schema: 'failsafe' });
  } catch (err) {
    out.units++;
    out.skip(file, `${format.toUpperCase()}: ${errorMessage(err)}`);
    return out.result();
  }
  collectOsv(doc, file, out, opts);
  return out.result();
}
