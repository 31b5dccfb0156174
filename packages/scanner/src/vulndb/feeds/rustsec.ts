import { severityFromScore, tryParseCvss } from '../cvss.js';
import type { Advisory, AffectedRange, FeedParseResult } from '../model.js';
import { errorMessage, FeedCollector, shortSummary, uniq } from './common.js';
import { parseToml, type TomlTable } from './toml.js';

/**
 * RustSec advisories (rustsec/advisory-db `crates/<crate>/RUSTSEC-YYYY-NNNN.md`): a ```toml block
 *
 *   [advisory]  id, package, aliases, related, cvss, date, withdrawn, informational, …
 *   [versions]  patched = ["^0.9.1", ">= 0.10.2"], unaffected = ["< 0.2.0"]
 *
 * followed by Markdown whose first "# " heading is the title. A version is affected when it matches
 * none of the `patched` and none of the `unaffected` requirements (Cargo semver requirement syntax;
 * a bare "1.2.3" is a caret requirement). This module turns that complement into OSV-style
 * intervals: safe set = union of the requirement intervals, affected = its complement.
 * OSV ranges cannot express an exclusive lower bound ("> X" affected, from `unaffected = ["<= X"]`),
 * so it is written as `introduced = successor(X)`, the smallest semver above X (X.Y.(Z+1)-0, or
 * X-pre.0 for a pre-release) — exact for semver ordering.
 * Withdrawn advisories are counted as ignored; informational ones (unmaintained, unsound, notice)
 * are kept with `informational` set.
 */

export type VersionCompare = (a: string, b: string) => number;

interface Bound {
  v: string;
  incl: boolean;
}
/** lo/hi undefined = unbounded. */
interface Interval {
  lo?: Bound;
  hi?: Bound;
}

interface Semver {
  major: number;
  minor?: number;
  patch?: number;
  pre?: string;
}

const COMPARATOR =
  /^(=|>=|<=|>|<|~|\^)?\s*v?(\*|[xX]|\d+)(?:\.(\*|[xX]|\d+))?(?:\.(\*|[xX]|\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

const full = (major: number, minor: number, patch: number, pre?: string): string =>
  `${major}.${minor}.${patch}${pre ? `-${pre}` : ''}`;

/** The smallest semver version greater than `v` (build metadata ignored). */
export function semverSuccessor(v: string): string {
  const base = v.split('+')[0] as string;
  if (base.includes('-')) return `${base}.0`;
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(base);
  if (!m) throw new Error(`not a full semver version: ${v}`);
  return `${m[1]}.${m[2]}.${Number(m[3]) + 1}-0`;
}

/** One Cargo comparator ("^1.2", ">= 0.3.0-alpha.1", "1.*", "*") → interval. */
export function comparatorInterval(raw: string): Interval {
  const text = raw.trim();
  const m = COMPARATOR.exec(text);
  if (!m) throw new Error(`bad requirement ${JSON.stringify(raw)}`);
  const [, opRaw, a, b, c, pre] = m;
  const wild = (x: string | undefined): boolean => x === '*' || x === 'x' || x === 'X';
  if (wild(a)) return {};
  const v: Semver = { major: Number(a) };
  let op = opRaw ?? '^';
  if (b !== undefined && !wild(b)) v.minor = Number(b);
  if (c !== undefined && !wild(c) && v.minor !== undefined) v.patch = Number(c);
  if (wild(b) || wild(c)) op = op === '^' || op === '~' ? '=' : op; // "1.*" means "=1"
  if (pre !== undefined) {
    if (v.minor === undefined || v.patch === undefined)
      throw new Error(`pre-release on a partial version: ${raw}`);
    v.pre = pre;
  }
  const { major } = v;
  const isFull = v.minor !== undefined && v.patch !== undefined;
  const lowest = full(major, v.minor ?? 0, v.patch ?? 0, v.pre);
  // Upper limit (exclusive, "-0" so the next line's pre-releases are outside) of the partial version's span.
  const partialEnd = (): string =>
    v.minor === undefined ? full(major + 1, 0, 0, '0') : full(major, v.minor + 1, 0, '0');
  switch (op) {
    case '=':
      return isFull
        ? { lo: { v: lowest, incl: true }, hi: { v: lowest, incl: true } }
        : { lo: { v: lowest, incl: true }, hi: { v: partialEnd(), incl: false } };
    case '>':
      return isFull
        ? { lo: { v: lowest, incl: false } }
        : { lo: { v: partialEnd().replace(/-0$/, ''), incl: true } };
    case '>=':
      return { lo: { v: lowest, incl: true } };
    case '<':
      return { hi: { v: lowest, incl: false } };
    case '<=':
      return isFull ? { hi: { v: lowest, incl: true } } : { hi: { v: partialEnd(), incl: false } };
    case '~': {
      const end = v.minor === undefined ? full(major + 1, 0, 0, '0') : full(major, v.minor + 1, 0, '0');
      return { lo: { v: lowest, incl: true }, hi: { v: end, incl: false } };
    }
    default: {
      // caret
      let end: string;
      if (major > 0 || v.minor === undefined) end = full(major + 1, 0, 0, '0');
      else if (v.minor > 0 || v.patch === undefined) end = full(0, v.minor + 1, 0, '0');
      else end = full(0, 0, (v.patch as number) + 1, '0');
      return { lo: { v: lowest, incl: true }, hi: { v: end, incl: false } };
    }
  }
}

/** A requirement ("comma-separated comparators, all must hold") → one interval, or null when empty. */
export function requirementInterval(req: string, compare: VersionCompare): Interval | null {
  let acc: Interval = {};
  for (const part of req.split(',')) {
    if (part.trim() === '') continue;
    const i = comparatorInterval(part);
    if (i.lo && (!acc.lo || compare(i.lo.v, acc.lo.v) > 0 || (compare(i.lo.v, acc.lo.v) === 0 && !i.lo.incl)))
      acc = { ...acc, lo: i.lo };
    if (i.hi && (!acc.hi || compare(i.hi.v, acc.hi.v) < 0 || (compare(i.hi.v, acc.hi.v) === 0 && !i.hi.incl)))
      acc = { ...acc, hi: i.hi };
  }
  if (acc.lo && acc.hi) {
    const c = compare(acc.lo.v, acc.hi.v);
    if (c > 0 || (c === 0 && !(acc.lo.incl && acc.hi.incl))) return null;
  }
  return acc;
}

/** Complement of the union of the safe requirements, as OSV-style affected ranges. */
export function affectedRanges(safe: string[], compare: VersionCompare): AffectedRange[] {
  const intervals = safe.map((r) => requirementInterval(r, compare)).filter((x): x is Interval => x !== null);
  // Sort by lower bound: unbounded first, then by version, inclusive before exclusive.
  intervals.sort((x, y) => {
    if (!x.lo) return y.lo ? -1 : 0;
    if (!y.lo) return 1;
    return compare(x.lo.v, y.lo.v) || (x.lo.incl === y.lo.incl ? 0 : x.lo.incl ? -1 : 1);
  });
  // Merge overlapping or touching intervals.
  const merged: Interval[] = [];
  for (const iv of intervals) {
    const last = merged[merged.length - 1];
    if (last) {
      if (!last.hi) continue; // last reaches +∞ and swallows the rest
      const touches =
        !iv.lo ||
        (() => {
          const c = compare(iv.lo.v, last.hi.v);
          return c < 0 || (c === 0 && (iv.lo.incl || last.hi.incl));
        })();
      if (touches) {
        if (!iv.hi) delete last.hi;
        else {
          const c = compare(iv.hi.v, last.hi.v);
          if (c > 0 || (c === 0 && iv.hi.incl)) last.hi = iv.hi;
        }
        continue;
      }
    }
    merged.push({ ...iv });
  }
  const ranges: AffectedRange[] = [];
  let prevHi: Bound | undefined | null = null; // null: -∞ (nothing before)
  const open = (from: Bound | undefined | null): AffectedRange =>
    from === null || from === undefined ? {} : { introduced: from.incl ? semverSuccessor(from.v) : from.v };
  for (const iv of merged) {
    if (iv.lo) {
      const r = open(prevHi);
      if (iv.lo.incl) r.fixed = iv.lo.v;
      else r.lastAffected = iv.lo.v;
      ranges.push(r);
    }
    prevHi = iv.hi;
    if (!iv.hi) return ranges; // safe up to +∞
  }
  ranges.push(open(prevHi));
  return ranges;
}

function stringList(v: unknown, what: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw new Error(`${what} is not a list of strings`);
  return v as string[];
}

/** Parses one RustSec Markdown advisory. */
export function parseRustsecAdvisory(
  text: string,
  file: string,
  compare: VersionCompare,
  out: FeedCollector = new FeedCollector(),
): FeedParseResult {
  out.units++;
  const block = /^```toml[ \t]*\r?\n([\s\S]*?)\r?\n```[ \t]*$/m.exec(text);
  if (!block) {
    out.skip(file, 'no ```toml front matter');
    return out.result();
  }
  let doc: TomlTable;
  try {
    doc = parseToml(block[1] as string);
  } catch (err) {
    out.skip(file, `TOML: ${errorMessage(err)}`);
    return out.result();
  }
  const adv = doc.advisory as TomlTable | undefined;
  if (!adv || typeof adv !== 'object' || Array.isArray(adv)) {
    out.skip(file, 'no [advisory] table');
    return out.result();
  }
  const { id, package: pkg } = adv;
  if (typeof id !== 'string' || !/^RUSTSEC-\d{4}-\d{4}$/.test(id) || typeof pkg !== 'string' || pkg === '') {
    out.skip(file, 'advisory.id / advisory.package missing or malformed');
    return out.result();
  }
  if (adv.withdrawn !== undefined) {
    out.ignored++;
    return out.result();
  }
  const versions = (doc.versions ?? {}) as TomlTable;
  let ranges: AffectedRange[];
  let aliases: string[];
  try {
    const patched = stringList(versions.patched, 'versions.patched');
    const unaffected = stringList(versions.unaffected, 'versions.unaffected');
    aliases = uniq(stringList(adv.aliases, 'advisory.aliases'));
    ranges = affectedRanges([...patched, ...unaffected], compare);
  } catch (err) {
    out.skip(`${file} ${id}`, errorMessage(err));
    return out.result();
  }
  const afterBlock = text.slice((block.index ?? 0) + block[0].length);
  const title = /^#\s+(.+)$/m.exec(afterBlock)?.[1];
  const cvss = typeof adv.cvss === 'string' ? tryParseCvss(adv.cvss) : undefined;
  const fixes = ranges.map((r) => r.fixed).filter((x): x is string => x !== undefined);
  const advisory: Advisory = {
    id,
    aliases,
    ranges,
    unfixed: ranges.some((r) => r.fixed === undefined && r.lastAffected === undefined),
    severity: cvss ? severityFromScore(cvss.score, cvss.version) : 'unknown',
    source: 'rustsec',
    ref: file,
  };
  if (fixes.length > 0) advisory.fixedVersion = [...fixes].sort(compare).pop() as string;
  if (cvss) advisory.cvss = cvss;
  const summary = shortSummary(title) ?? shortSummary(adv.description);
  if (summary) advisory.summary = summary;
  if (typeof adv.date === 'string') advisory.published = adv.date;
  if (typeof adv.informational === 'string' && adv.informational !== '')
    advisory.informational = adv.informational;
  if (ranges.length === 0) {
    // Every version is patched or unaffected: nothing can match; keep it out of the DB.
    out.ignored++;
    return out.result();
  }
  out.records.push({ ecosystem: 'crates.io', release: '', package: pkg, advisory });
  return out.result();
}
