/**
 * Python package versions, PEP 440 (packaging.python.org "Version specifiers"):
 * `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, with the spec's normalisation: case-insensitive, an
 * optional leading `v`, surrounding whitespace, `-`, `_` or `.` (or nothing) as separators before
 * pre/post/dev markers, `alpha`/`beta`/`c`/`pre`/`preview` for `a`/`b`/`rc`/`rc`/`rc`, `rev`/`r` for
 * `post`, an implicit number 0 after a marker, `1.0-1` for `1.0.post1`, and `-`/`_` in local versions
 * for `.`.
 *
 * Order: epoch; release, trailing zeros ignored (`1.0 == 1.0.0`); then `X.devN` < `X.aN` < `X.bN` <
 * `X.rcN` < `X` < `X.postN` (a dev release of a pre or post release sorts just before that release);
 * then the local version, absent < present, segments compared one by one with numbers above strings.
 * A string that is not PEP 440 (e.g. the "legacy" versions packaging < 22 accepted) throws
 * InvalidVersionError.
 */
import { compareDigitRuns, compareStrings, InvalidVersionError } from './common.js';

const SCHEME = 'PEP 440';

export interface Pep440Version {
  epoch: bigint;
  release: readonly bigint[];
  pre: { kind: 'a' | 'b' | 'rc'; n: bigint } | undefined;
  post: bigint | undefined;
  dev: bigint | undefined;
  /** Local segments, lower-cased and split on `.`, `-`, `_`. */
  local: readonly string[] | undefined;
}

const SEP = '[-_.]?';
const PATTERN = new RegExp(
  '^v?' +
    '(?:([0-9]+)!)?' + // epoch
    '([0-9]+(?:\\.[0-9]+)*)' + // release
    `(?:${SEP}(alpha|beta|preview|pre|rc|a|b|c)${SEP}([0-9]+)?)?` + // pre-release
    `(?:-([0-9]+)|${SEP}(post|rev|r)${SEP}([0-9]+)?)?` + // post-release
    `(?:${SEP}(dev)${SEP}([0-9]+)?)?` + // dev release
    '(?:\\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?$', // local version
);

const PRE_KIND: Record<string, 'a' | 'b' | 'rc'> = {
  a: 'a',
  alpha: 'a',
  b: 'b',
  beta: 'b',
  c: 'rc',
  rc: 'rc',
  pre: 'rc',
  preview: 'rc',
};

export function parsePep440(input: string): Pep440Version {
  if (typeof input !== 'string') throw new InvalidVersionError(SCHEME, input, 'not a string');
  const m = PATTERN.exec(input.trim().toLowerCase());
  if (!m) {
    throw new InvalidVersionError(
      SCHEME,
      input,
      'does not match [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local] (legacy, non-PEP 440 versions are not supported)',
    );
  }
  const num = (s: string | undefined): bigint => (s === undefined ? 0n : BigInt(s));
  const preKind = m[3] === undefined ? undefined : PRE_KIND[m[3]];
  let post: bigint | undefined;
  if (m[5] !== undefined) post = BigInt(m[5]);
  else if (m[6] !== undefined) post = num(m[7]);
  return {
    epoch: num(m[1]),
    release: (m[2] as string).split('.').map((n) => BigInt(n)),
    pre: preKind === undefined ? undefined : { kind: preKind, n: num(m[4]) },
    post,
    dev: m[8] === undefined ? undefined : num(m[9]),
    local: m[10] === undefined ? undefined : m[10].split(/[-_.]/),
  };
}

export function tryParsePep440(input: string): Pep440Version | undefined {
  try {
    return parsePep440(input);
  } catch (e) {
    if (e instanceof InvalidVersionError) return undefined;
    throw e;
  }
}

export function isValidPep440(input: string): boolean {
  return tryParsePep440(input) !== undefined;
}

/** The normalised form of a version (`1.0.0-ALPHA.1` → `1.0.0a1`, `v1.0-1` → `1.0.post1`). */
export function normalizePep440(input: string): string {
  const v = parsePep440(input);
  let s = v.epoch === 0n ? '' : `${v.epoch}!`;
  s += v.release.join('.');
  if (v.pre) s += `${v.pre.kind}${v.pre.n}`;
  if (v.post !== undefined) s += `.post${v.post}`;
  if (v.dev !== undefined) s += `.dev${v.dev}`;
  if (v.local) {
    s += `+${v.local.map((seg) => (/^[0-9]+$/.test(seg) ? BigInt(seg).toString() : seg)).join('.')}`;
  }
  return s;
}

const cmpBig = (a: bigint, b: bigint): -1 | 0 | 1 => (a < b ? -1 : a > b ? 1 : 0);
const PRE_RANK = { a: 0n, b: 1n, rc: 2n };

/** Sort key for the pre-release slot: [rank, n]; a bare dev release sorts before any pre-release. */
function preKey(v: Pep440Version): [bigint, bigint] {
  if (v.pre) return [PRE_RANK[v.pre.kind], v.pre.n];
  if (v.post === undefined && v.dev !== undefined) return [-1n, 0n];
  return [3n, 0n]; // a final (or post) release sorts after every pre-release
}

function compareLocal(a: readonly string[] | undefined, b: readonly string[] | undefined): -1 | 0 | 1 {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    const xn = /^[0-9]+$/.test(x);
    const yn = /^[0-9]+$/.test(y);
    const c = xn && yn ? compareDigitRuns(x, y) : xn !== yn ? (xn ? 1 : -1) : compareStrings(x, y);
    if (c !== 0) return c;
  }
  return cmpBig(BigInt(a.length), BigInt(b.length));
}

export function compareParsedPep440(a: Pep440Version, b: Pep440Version): -1 | 0 | 1 {
  let c = cmpBig(a.epoch, b.epoch);
  if (c !== 0) return c;
  const n = Math.max(a.release.length, b.release.length);
  for (let i = 0; i < n; i++) {
    c = cmpBig(a.release[i] ?? 0n, b.release[i] ?? 0n);
    if (c !== 0) return c;
  }
  const [ar, an] = preKey(a);
  const [br, bn] = preKey(b);
  c = cmpBig(ar, br) || cmpBig(an, bn);
  if (c !== 0) return c;
  // Post: absent sorts first. Dev: absent sorts last.
  c = cmpBig(a.post ?? -1n, b.post ?? -1n);
  if (c !== 0) return c;
  if (a.dev !== b.dev) {
    if (a.dev === undefined) return 1;
    if (b.dev === undefined) return -1;
    c = cmpBig(a.dev, b.dev);
    if (c !== 0) return c;
  }
  return compareLocal(a.local, b.local);
}

/** Compares two PEP 440 versions; throws InvalidVersionError when either is not PEP 440. */
export function comparePep440(a: string, b: string): -1 | 0 | 1 {
  return compareParsedPep440(parsePep440(a), parsePep440(b));
}
