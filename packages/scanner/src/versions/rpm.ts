/**
 * RPM versions. `rpmvercmp` compares one version or release string: both are cut into alternating runs
 * of ASCII digits and ASCII letters, everything else (`.`, `_`, `+`, non-ASCII …) only separating runs.
 * Digit runs compare numerically, letter runs as strings, and a digit run is newer than a letter run.
 * `~` sorts before everything, even the end of the string (`1.0~rc1 < 1.0`); `^` sorts after the end of
 * the string but before anything else (`1.0 < 1.0^git1 < 1.0.1`). When one side runs out, the side
 * with something left is newer.
 *
 * A full `[epoch:]version[-release]` is compared as rpm compares packages: the epoch (an absent epoch is
 * 0), then the version, then the release, where an absent release (no hyphen) is older than any present
 * release, even an empty one. The epoch is the leading run of digits when a colon follows it; the release
 * is what follows the last hyphen. RPM has no notion of an invalid version: nothing throws.
 */
import { compareDigitRuns, compareStrings, isAsciiDigit, isAsciiLetter } from './common.js';

const isAlnum = (c: string | undefined): boolean => isAsciiDigit(c) || isAsciiLetter(c);

export function rpmvercmp(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  for (;;) {
    while (i < a.length && !isAlnum(a[i]) && a[i] !== '~' && a[i] !== '^') i++;
    while (j < b.length && !isAlnum(b[j]) && b[j] !== '~' && b[j] !== '^') j++;

    // Tilde: older than anything, the end of the string included.
    if (a[i] === '~' || b[j] === '~') {
      if (a[i] !== '~') return 1;
      if (b[j] !== '~') return -1;
      i++;
      j++;
      continue;
    }
    // Caret: newer than the end of the string, older than anything else.
    if (a[i] === '^' || b[j] === '^') {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== '^') return 1;
      if (b[j] !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (i >= a.length || j >= b.length) break;

    const numeric = isAsciiDigit(a[i]);
    const inRun = numeric ? isAsciiDigit : isAsciiLetter;
    const si = i;
    const sj = j;
    while (i < a.length && inRun(a[i])) i++;
    while (j < b.length && inRun(b[j])) j++;
    // b has a run of the other type here: numbers are newer than letters.
    if (j === sj) return numeric ? 1 : -1;
    const c = numeric
      ? compareDigitRuns(a.slice(si, i), b.slice(sj, j))
      : compareStrings(a.slice(si, i), b.slice(sj, j));
    if (c !== 0) return c;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i < a.length ? 1 : -1;
}

export interface RpmVersion {
  /** Absent when the string has no `digits:` prefix (compares as "0"). */
  epoch: string | undefined;
  version: string;
  /** Absent when there is no hyphen. */
  release: string | undefined;
}

export function parseRpmVersion(evr: string): RpmVersion {
  const s = evr.trim();
  let digits = 0;
  while (isAsciiDigit(s[digits])) digits++;
  let epoch: string | undefined;
  let rest = s;
  if (s[digits] === ':') {
    epoch = digits === 0 ? '0' : s.slice(0, digits);
    rest = s.slice(digits + 1);
  }
  const hyphen = rest.lastIndexOf('-');
  if (hyphen === -1) return { epoch, version: rest, release: undefined };
  return { epoch, version: rest.slice(0, hyphen), release: rest.slice(hyphen + 1) };
}

function comparePresent(a: string | undefined, b: string | undefined): -1 | 0 | 1 {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  return rpmvercmp(a, b);
}

export function compareRpm(a: string, b: string): -1 | 0 | 1 {
  const x = parseRpmVersion(a);
  const y = parseRpmVersion(b);
  return (
    rpmvercmp(x.epoch ?? '0', y.epoch ?? '0') ||
    rpmvercmp(x.version, y.version) ||
    comparePresent(x.release, y.release)
  );
}

/**
 * A plausible package EVR: not empty, no whitespace or control characters, a numeric epoch when there is
 * a colon, a non-empty version and, after a hyphen, a non-empty release. rpm itself compares anything.
 */
export function isValidRpmVersion(evr: string): boolean {
  if (evr === '' || /[\s\p{Cc}]/u.test(evr)) return false;
  const colon = evr.indexOf(':');
  if (colon !== -1 && !/^[0-9]+$/.test(evr.slice(0, colon))) return false;
  const { version, release } = parseRpmVersion(evr);
  return version !== '' && release !== '';
}
