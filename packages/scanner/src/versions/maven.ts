/**
 * Maven versions, ordered by the "Version Order Specification" of the POM reference
 * (maven.apache.org/pom.html), which documents Maven's ComparableVersion:
 *
 * 1. The version is cut into tokens at `.`, at `-` and at each change between digits and non-digits;
 *    each token remembers its separator, a digit/non-digit change counting as `-`. An empty token is
 *    `0`. Tokens are case-insensitive; `a`, `b`, `m` directly followed by a digit mean alpha, beta,
 *    milestone; `ga`, `final`, `release` mean `` (a release) and `cr` means `rc`.
 * 2. "Null" tokens (`0` and ``) are trimmed from the end, and again just before every remaining `-`,
 *    from the end to the start: `1.0.0 = 1`, `1.0.0-foo.0.0 = 1-foo`, `1-ga-1 = 1-1`.
 * 3. Tokens compare left to right. Qualifiers rank `alpha < beta < milestone < rc < snapshot < `` < sp`
 *    and then any other qualifier alphabetically; every qualifier is older than every number, and
 *    `-number < .number` (`1-1 < 1.1`); `.qualifier` and `-qualifier` are the same. Numbers compare
 *    numerically, whatever their size. Where one version has run out, its missing token is a null of the
 *    kind of the other one's token: `0` against a number, `` against a qualifier (`1 < 1.1`, `1 < 1-1`,
 *    `1-rc < 1 < 1-sp`).
 *
 * Every string is a Maven version; nothing throws.
 */
import { compareDigitRuns, compareStrings, isAsciiDigit } from './common.js';

export type MavenToken =
  | { sep: '.' | '-'; kind: 'number'; digits: string }
  | { sep: '.' | '-'; kind: 'qualifier'; value: string };

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIASES: Record<string, string> = { ga: '', final: '', release: '', cr: 'rc' };
const SHORT: Record<string, string> = { a: 'alpha', b: 'beta', m: 'milestone' };

function token(sep: '.' | '-', text: string, followedByDigit: boolean): MavenToken {
  if (text === '') return { sep, kind: 'number', digits: '0' };
  if (isAsciiDigit(text[0])) return { sep, kind: 'number', digits: text.replace(/^0+(?=.)/, '') };
  let q = followedByDigit ? (SHORT[text] ?? text) : text;
  q = ALIASES[q] ?? q;
  return { sep, kind: 'qualifier', value: q };
}

const isNull = (t: MavenToken): boolean => (t.kind === 'number' ? t.digits === '0' : t.value === '');

/** Splits and trims a version into its tokens (step 1 and 2 above). */
export function parseMaven(version: string): MavenToken[] {
  const v = version.trim().toLowerCase();
  const tokens: MavenToken[] = [];
  let sep: '.' | '-' = '.';
  let start = 0;
  for (let i = 0; i <= v.length; i++) {
    const c = v[i];
    if (i === v.length || c === '.' || c === '-') {
      // A separator at the very end adds nothing ("1." and "1-" are "1"); elsewhere an empty token is 0.
      if (i < v.length || i > start) tokens.push(token(sep, v.slice(start, i), false));
      sep = c === '-' ? '-' : '.';
      start = i + 1;
    } else if (i > start && isAsciiDigit(c) !== isAsciiDigit(v[i - 1])) {
      tokens.push(token(sep, v.slice(start, i), isAsciiDigit(c)));
      sep = '-';
      start = i;
    }
  }
  // Trim nulls at the end, then before each remaining '-', from the end to the start.
  for (let end = tokens.length; end > 0; end--) {
    if (end === tokens.length || tokens[end]?.sep === '-') {
      while (end > 0 && isNull(tokens[end - 1] as MavenToken)) tokens.splice(--end, 1);
    }
  }
  return tokens;
}

function qualifierKey(q: string): string {
  const i = QUALIFIERS.indexOf(q);
  return i === -1 ? `${QUALIFIERS.length}-${q}` : String(i);
}

/** Compares a token with another, or with the null standing in for a missing one. */
function compareToken(a: MavenToken, b: MavenToken | undefined): -1 | 0 | 1 {
  if (b === undefined) {
    return a.kind === 'number'
      ? compareDigitRuns(a.digits, '0')
      : compareStrings(qualifierKey(a.value), qualifierKey(''));
  }
  if (a.kind === 'qualifier' || b.kind === 'qualifier') {
    if (a.kind !== b.kind) return a.kind === 'qualifier' ? -1 : 1;
    return compareStrings(
      qualifierKey((a as { value: string }).value),
      qualifierKey((b as { value: string }).value),
    );
  }
  if (a.sep !== b.sep) return a.sep === '-' ? -1 : 1;
  return compareDigitRuns(a.digits, b.digits);
}

export function compareParsedMaven(a: readonly MavenToken[], b: readonly MavenToken[]): -1 | 0 | 1 {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    const c =
      x === undefined ? (-compareToken(y as MavenToken, undefined) as -1 | 0 | 1) : compareToken(x, y);
    if (c !== 0) return c;
  }
  return 0;
}

export function compareMaven(a: string, b: string): -1 | 0 | 1 {
  return compareParsedMaven(parseMaven(a), parseMaven(b));
}

/** The canonical form (`1.0.0-FINAL` → `1`, `1-1.foo-bar1baz-.1` → `1-1.foo-bar-1-baz-0.1`). */
export function canonicalMaven(version: string): string {
  return parseMaven(version)
    .map((t, i) => (i === 0 ? '' : t.sep) + (t.kind === 'number' ? t.digits : t.value))
    .join('');
}

/** Any non-empty string without whitespace is a Maven version. */
export function isValidMavenVersion(version: string): boolean {
  return version !== '' && !/\s/.test(version);
}
