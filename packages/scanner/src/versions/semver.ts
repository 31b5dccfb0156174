/**
 * Semantic Versioning 2.0.0 (https://semver.org), as used by npm, Go modules and crates.io.
 *
 * Parsing is strict SemVer 2.0 with the two leniencies node-semver has outside its loose mode: the input
 * is trimmed and one leading `v` is accepted (Go versions are written `v1.2.3`). Like node-semver, inputs
 * longer than 256 characters and major/minor/patch numbers above Number.MAX_SAFE_INTEGER are invalid.
 * Precedence: major, minor, patch numerically; a version without pre-release is newer than one with;
 * pre-release identifiers compare left to right, numeric ones numerically and older than alphanumeric
 * ones (compared in ASCII order), and a shorter list is older when it is a prefix of the longer one.
 * Build metadata is ignored.
 *
 * `satisfies` checks a version against a range: npm's range syntax (`1.2.x || >=2.0.0 <2.1.0`,
 * `^1.2.3`, `~1.2`, `1.2.3 - 2.3.4` …, see node-semver's README) or a Cargo requirement
 * (`>= 1.2, < 1.5`, `^0.3`, `0.3` meaning `^0.3`, `~1.2`, `1.*`), as RustSec advisories use.
 */
import { compareDigitRuns, compareStrings, InvalidVersionError } from './common.js';

const SCHEME = 'SemVer 2.0';
const MAX_LENGTH = 256;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export interface SemVer {
  major: bigint;
  minor: bigint;
  patch: bigint;
  /** Pre-release identifiers as written (numeric ones are all digits without a leading zero). */
  prerelease: readonly string[];
  build: readonly string[];
}

const NUMBER = /^(?:0|[1-9][0-9]*)$/;
const IDENT = /^[0-9A-Za-z-]+$/;
const DIGITS = /^[0-9]+$/;

function parseIdentifiers(part: string, what: 'pre-release' | 'build', input: string): string[] {
  const ids = part.split('.');
  for (const id of ids) {
    if (id === '') throw new InvalidVersionError(SCHEME, input, `empty ${what} identifier`);
    if (!IDENT.test(id)) {
      throw new InvalidVersionError(
        SCHEME,
        input,
        `${what} identifier "${id}" has characters outside [0-9A-Za-z-]`,
      );
    }
    if (what === 'pre-release' && DIGITS.test(id) && !NUMBER.test(id)) {
      throw new InvalidVersionError(
        SCHEME,
        input,
        `numeric pre-release identifier "${id}" has a leading zero`,
      );
    }
  }
  return ids;
}

function parseCore(field: string, name: string, input: string): bigint {
  if (!DIGITS.test(field)) {
    throw new InvalidVersionError(
      SCHEME,
      input,
      `${name} "${field}" is not a number (expected MAJOR.MINOR.PATCH)`,
    );
  }
  if (!NUMBER.test(field)) {
    throw new InvalidVersionError(SCHEME, input, `${name} "${field}" has a leading zero`);
  }
  const n = BigInt(field);
  if (n > MAX_SAFE) {
    throw new InvalidVersionError(SCHEME, input, `${name} is larger than Number.MAX_SAFE_INTEGER`);
  }
  return n;
}

/** Parses a SemVer 2.0 version (trimmed, optional leading `v`); throws InvalidVersionError. */
export function parseSemver(input: string): SemVer {
  if (typeof input !== 'string') throw new InvalidVersionError(SCHEME, input, 'not a string');
  if (input.length > MAX_LENGTH) {
    throw new InvalidVersionError(SCHEME, input, `longer than ${MAX_LENGTH} characters`);
  }
  let s = input.trim();
  if (s.startsWith('v')) s = s.slice(1);
  if (s === '') throw new InvalidVersionError(SCHEME, input, 'empty version');
  let build: string[] = [];
  const plus = s.indexOf('+');
  if (plus !== -1) {
    build = parseIdentifiers(s.slice(plus + 1), 'build', input);
    s = s.slice(0, plus);
  }
  let prerelease: string[] = [];
  const hyphen = s.indexOf('-');
  if (hyphen !== -1) {
    prerelease = parseIdentifiers(s.slice(hyphen + 1), 'pre-release', input);
    s = s.slice(0, hyphen);
  }
  const core = s.split('.');
  if (core.length !== 3) {
    throw new InvalidVersionError(
      SCHEME,
      input,
      `expected MAJOR.MINOR.PATCH, found ${core.length} dot-separated field(s)`,
    );
  }
  const [major, minor, patch] = core as [string, string, string];
  return {
    major: parseCore(major, 'major', input),
    minor: parseCore(minor, 'minor', input),
    patch: parseCore(patch, 'patch', input),
    prerelease,
    build,
  };
}

export function tryParseSemver(input: unknown): SemVer | undefined {
  try {
    return parseSemver(input as string);
  } catch (e) {
    if (e instanceof InvalidVersionError) return undefined;
    throw e;
  }
}

export function isValidSemver(input: unknown): boolean {
  return tryParseSemver(input) !== undefined;
}

function compareIdentifier(a: string, b: string): -1 | 0 | 1 {
  const an = DIGITS.test(a);
  const bn = DIGITS.test(b);
  if (an && bn) return compareDigitRuns(a, b);
  if (an !== bn) return an ? -1 : 1;
  return compareStrings(a, b);
}

const cmpBig = (a: bigint, b: bigint): -1 | 0 | 1 => (a < b ? -1 : a > b ? 1 : 0);

/** SemVer precedence of two parsed versions (build metadata ignored). */
export function compareParsedSemver(a: SemVer, b: SemVer): -1 | 0 | 1 {
  const core = cmpBig(a.major, b.major) || cmpBig(a.minor, b.minor) || cmpBig(a.patch, b.patch);
  if (core !== 0) return core;
  const pa = a.prerelease;
  const pb = b.prerelease;
  if (pa.length === 0 || pb.length === 0) return pa.length === pb.length ? 0 : pa.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const c = compareIdentifier(pa[i] as string, pb[i] as string);
    if (c !== 0) return c;
  }
  return cmpBig(BigInt(pa.length), BigInt(pb.length));
}

/** Compares two SemVer strings; throws InvalidVersionError when either is not SemVer 2.0. */
export function compareSemver(a: string, b: string): -1 | 0 | 1 {
  return compareParsedSemver(parseSemver(a), parseSemver(b));
}

// ---------------------------------------------------------------------------------------------------
// Ranges

export interface RangeOptions {
  /** `npm` (default): node-semver ranges. `cargo`: Cargo/RustSec requirements (comma = and, bare = caret). */
  syntax?: 'npm' | 'cargo';
  /** npm's `includePrerelease`: pre-releases are ordinary points of the order; x-ranges start at `-0`. */
  includePrerelease?: boolean;
}

type Op = '<' | '<=' | '>' | '>=' | '=';

interface Comparator {
  op: Op;
  version: SemVer;
  /** A bound made up while desugaring (`^1.2.3` gives `<2.0.0-0`); it never admits pre-releases. */
  synthetic: boolean;
}

/** Alternatives (`||`), each a conjunction of comparators; an empty conjunction matches any release. */
export type Range = Comparator[][];

interface Partial {
  major?: bigint;
  minor?: bigint;
  patch?: bigint;
  prerelease: string[];
}

const rangeScheme = (o: RangeOptions): string => (o.syntax === 'cargo' ? 'Cargo requirement' : 'npm range');

const WILDCARD = /^(?:x|X|\*)$/;

function parsePartial(text: string, input: string, o: RangeOptions): Partial {
  const scheme = rangeScheme(o);
  let s = text;
  if (o.syntax !== 'cargo' && s.startsWith('v')) s = s.slice(1);
  let prerelease: string[] = [];
  const plus = s.indexOf('+');
  if (plus !== -1) {
    try {
      parseIdentifiers(s.slice(plus + 1), 'build', input);
    } catch (e) {
      throw new InvalidVersionError(scheme, input, (e as InvalidVersionError).reason);
    }
    s = s.slice(0, plus);
  }
  const hyphen = s.indexOf('-');
  if (hyphen !== -1) {
    try {
      prerelease = parseIdentifiers(s.slice(hyphen + 1), 'pre-release', input);
    } catch (e) {
      throw new InvalidVersionError(scheme, input, (e as InvalidVersionError).reason);
    }
    s = s.slice(0, hyphen);
  }
  const fields = s.split('.');
  if (fields.length > 3 || s === '') {
    throw new InvalidVersionError(scheme, input, `"${text}" is not a version`);
  }
  if ((prerelease.length > 0 || plus !== -1) && fields.length !== 3) {
    throw new InvalidVersionError(scheme, input, `"${text}": a pre-release or build needs MAJOR.MINOR.PATCH`);
  }
  const nums: (bigint | undefined)[] = [];
  let sawWildcard = false;
  for (const f of fields) {
    if (WILDCARD.test(f)) {
      sawWildcard = true;
      nums.push(undefined);
      continue;
    }
    if (!NUMBER.test(f)) throw new InvalidVersionError(scheme, input, `"${f}" in "${text}" is not a number`);
    if (sawWildcard) {
      throw new InvalidVersionError(scheme, input, `"${text}": a number after a wildcard`);
    }
    const n = BigInt(f);
    if (n > MAX_SAFE) {
      throw new InvalidVersionError(scheme, input, `"${f}" is larger than Number.MAX_SAFE_INTEGER`);
    }
    nums.push(n);
  }
  return { major: nums[0], minor: nums[1], patch: nums[2], prerelease: sawWildcard ? [] : prerelease };
}

const ver = (major: bigint, minor: bigint, patch: bigint, prerelease: string[] = []): SemVer => ({
  major,
  minor,
  patch,
  prerelease,
  build: [],
});
const bound = (op: Op, version: SemVer, synthetic = true): Comparator => ({ op, version, synthetic });
/** Something no version satisfies. */
const NOTHING: Comparator[] = [bound('<', ver(0n, 0n, 0n, ['0']))];

/** Desugars one `OPpartial` into plain comparators (`undefined`: matches nothing). */
function desugar(op: string, p: Partial, o: RangeOptions): Comparator[] | undefined {
  const pr = o.includePrerelease ? ['0'] : [];
  const { major: M, minor: m, patch: pt } = p;
  if (M === undefined) {
    // `*`, `x`, `>=*`, `<=*`, `^*`, `~*` match anything; `>*`, `<*` nothing.
    return op === '<' || op === '>' ? undefined : [];
  }
  const full = m !== undefined && pt !== undefined;
  const exact = full ? ver(M, m, pt, p.prerelease) : undefined;
  const low = ver(M, m ?? 0n, pt ?? 0n, pr);
  // Upper bound of the x-range the partial stands for: `1` → <2.0.0-0, `1.2` → <1.3.0-0.
  const xUpper = m === undefined ? ver(M + 1n, 0n, 0n, ['0']) : ver(M, m + 1n, 0n, ['0']);
  switch (op) {
    case '':
    case '=':
      return exact ? [bound('=', exact, false)] : [bound('>=', low), bound('<', xUpper)];
    case '>':
      return exact ? [bound('>', exact, false)] : [bound('>=', { ...xUpper, prerelease: pr })];
    case '>=':
      return exact ? [bound('>=', exact, false)] : [bound('>=', low)];
    case '<':
      return exact ? [bound('<', exact, false)] : [bound('<', ver(M, m ?? 0n, 0n, ['0']))];
    case '<=':
      return exact ? [bound('<=', exact, false)] : [bound('<', xUpper)];
    case '~':
    case '~>': {
      const upper = m === undefined ? ver(M + 1n, 0n, 0n, ['0']) : ver(M, m + 1n, 0n, ['0']);
      return [exact ? bound('>=', exact, false) : bound('>=', low), bound('<', upper)];
    }
    case '^': {
      let upper: SemVer;
      if (M > 0n || m === undefined) upper = ver(M + 1n, 0n, 0n, ['0']);
      else if (m > 0n || pt === undefined) upper = ver(0n, m + 1n, 0n, ['0']);
      else upper = ver(0n, 0n, pt + 1n, ['0']);
      return [exact ? bound('>=', exact, false) : bound('>=', low), bound('<', upper)];
    }
    default:
      throw new Error(`unreachable operator ${op}`);
  }
}

const COMPARATOR = /^(<=|>=|<|>|=|~>|~|\^)?\s*(\S+)$/;

function parseComparator(text: string, input: string, o: RangeOptions): Comparator[] {
  const m = COMPARATOR.exec(text);
  if (!m) throw new InvalidVersionError(rangeScheme(o), input, `"${text}" is not a comparator`);
  let op = m[1] ?? '';
  const version = m[2] as string;
  // Cargo: a bare version is a caret requirement; a bare wildcard (`1.2.*`) stays a wildcard.
  if (o.syntax === 'cargo' && op === '' && !/(?:^|\.)[xX*](?:\.|$)/.test(version)) op = '^';
  const set = desugar(op, parsePartial(version, input, o), o);
  return set ?? NOTHING;
}

/** Splits an npm comparator set into comparators, joining an operator with the version after it. */
function splitNpmSet(set: string, input: string, o: RangeOptions): Comparator[] {
  const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(set);
  if (hyphen) {
    const from = parsePartial(hyphen[1] as string, input, o);
    const to = parsePartial(hyphen[2] as string, input, o);
    const out: Comparator[] = [];
    // With includePrerelease a release lower bound also admits its own pre-releases (as node-semver).
    if (o.includePrerelease && from.patch !== undefined && from.prerelease.length === 0) {
      from.prerelease = ['0'];
    }
    if (from.major !== undefined) out.push(...(desugar('>=', from, o) ?? NOTHING));
    if (to.major !== undefined) out.push(...(desugar('<=', to, o) ?? NOTHING));
    return out;
  }
  const out: Comparator[] = [];
  const words = set.split(/\s+/).filter((w) => w !== '');
  for (let i = 0; i < words.length; i++) {
    let word = words[i] as string;
    // `>= 1.2.3`, `~ 1.0`, `~> 1`: an operator standing alone takes the next word.
    if (/^(<=|>=|<|>|=|~>|~|\^)$/.test(word)) {
      const next = words[++i];
      if (next === undefined) {
        throw new InvalidVersionError(rangeScheme(o), input, `"${word}" has no version`);
      }
      word += next;
    }
    out.push(...parseComparator(word, input, o));
  }
  return out;
}

/** Parses an npm range or a Cargo requirement; throws InvalidVersionError. */
export function parseRange(range: string, options: RangeOptions = {}): Range {
  if (typeof range !== 'string') throw new InvalidVersionError(rangeScheme(options), range, 'not a string');
  if (options.syntax === 'cargo') {
    const parts = range.split(',').map((p) => p.trim());
    if (parts.some((p) => p === '')) {
      throw new InvalidVersionError(rangeScheme(options), range, 'empty requirement');
    }
    return [parts.flatMap((p) => parseComparator(p.replace(/^(<=|>=|<|>|=|~|\^)\s+/, '$1'), range, options))];
  }
  return range.split('||').map((set) => splitNpmSet(set.trim(), range, options));
}

export function isValidRange(range: string, options: RangeOptions = {}): boolean {
  try {
    parseRange(range, options);
    return true;
  } catch (e) {
    if (e instanceof InvalidVersionError) return false;
    throw e;
  }
}

function test(c: Comparator, v: SemVer): boolean {
  const r = compareParsedSemver(v, c.version);
  switch (c.op) {
    case '<':
      return r < 0;
    case '<=':
      return r <= 0;
    case '>':
      return r > 0;
    case '>=':
      return r >= 0;
    case '=':
      return r === 0;
  }
}

function satisfiesSet(set: Comparator[], v: SemVer, o: RangeOptions): boolean {
  if (!set.every((c) => test(c, v))) return false;
  if (v.prerelease.length === 0 || o.includePrerelease) return true;
  // A pre-release only satisfies a set in which a comparator written with a pre-release names the
  // same MAJOR.MINOR.PATCH (npm and Cargo both work this way).
  return set.some(
    (c) =>
      !c.synthetic &&
      c.version.prerelease.length > 0 &&
      c.version.major === v.major &&
      c.version.minor === v.minor &&
      c.version.patch === v.patch,
  );
}

/**
 * Whether `version` is in `range`. A version that is not SemVer 2.0 satisfies nothing (as in
 * node-semver); a range that does not parse throws InvalidVersionError, so that a broken advisory range
 * is noticed instead of silently matching nothing.
 */
export function satisfies(version: string, range: string | Range, options: RangeOptions = {}): boolean {
  const r = typeof range === 'string' ? parseRange(range, options) : range;
  const v = tryParseSemver(version);
  if (v === undefined) return false;
  return r.some((set) => satisfiesSet(set, v, options));
}
