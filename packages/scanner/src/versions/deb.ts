/**
 * Debian package versions, compared the way dpkg does: `[epoch:]upstream_version[-debian_revision]`
 * (Debian Policy §5.6.12). The epoch is an unsigned integer; the revision is everything after the last
 * hyphen. Upstream and revision are compared with the same algorithm: alternately a run of non-digits,
 * compared character by character where `~` sorts before everything (even the end of the string),
 * letters sort before non-letters and the end of the string sorts between the two; then a run of digits,
 * compared numerically (an absent run counts as 0).
 *
 * Comparison is lenient like `dpkg --compare-versions` on inputs with warnings: it never throws.
 * `isValidDebianVersion` reports what dpkg would accept without an error or a warning.
 */
import { compareDigitRuns, isAsciiDigit, isAsciiLetter, sign } from './common.js';

export interface DebianVersion {
  epoch: bigint;
  upstream: string;
  /** '' when there is no hyphen (dpkg treats an absent revision like "0"). */
  revision: string;
}

/**
 * Splits a version into epoch, upstream and revision. The epoch is the part before the first colon when
 * that part is all digits; otherwise (which dpkg rejects) the whole string is taken as epoch 0.
 */
export function parseDebianVersion(version: string): DebianVersion {
  let rest = version.trim();
  let epoch = 0n;
  const colon = rest.indexOf(':');
  if (colon > 0 && /^[0-9]+$/.test(rest.slice(0, colon))) {
    epoch = BigInt(rest.slice(0, colon));
    rest = rest.slice(colon + 1);
  }
  const hyphen = rest.lastIndexOf('-');
  if (hyphen === -1) return { epoch, upstream: rest, revision: '' };
  return { epoch, upstream: rest.slice(0, hyphen), revision: rest.slice(hyphen + 1) };
}

/** Weight of a character in a non-digit run; `undefined` is the end of the string (or of the run). */
function weight(c: string | undefined): number {
  if (c === undefined || isAsciiDigit(c)) return 0;
  if (c === '~') return -1;
  if (isAsciiLetter(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

/** dpkg's comparison of an upstream version or a revision. */
export function compareDebianFragment(a: string, b: string): -1 | 0 | 1 {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // Non-digit run: compare position by position until both sides reach a digit (or the end).
    while ((i < a.length && !isAsciiDigit(a[i])) || (j < b.length && !isAsciiDigit(b[j]))) {
      const wa = weight(a[i]);
      const wb = weight(b[j]);
      if (wa !== wb) return sign(wa - wb);
      i++;
      j++;
    }
    // Digit run: numeric, an empty run being 0.
    const si = i;
    const sj = j;
    while (isAsciiDigit(a[i])) i++;
    while (isAsciiDigit(b[j])) j++;
    const c = compareDigitRuns(a.slice(si, i) || '0', b.slice(sj, j) || '0');
    if (c !== 0) return c;
  }
  return 0;
}

export function compareDebian(a: string, b: string): -1 | 0 | 1 {
  const x = parseDebianVersion(a);
  const y = parseDebianVersion(b);
  if (x.epoch !== y.epoch) return x.epoch < y.epoch ? -1 : 1;
  return compareDebianFragment(x.upstream, y.upstream) || compareDebianFragment(x.revision, y.revision);
}

/** Why dpkg would reject or warn about `version`, or `undefined` when it is well-formed. */
export function debianVersionProblem(version: string): string | undefined {
  const v = version.trim();
  if (v === '') return 'version string is empty';
  if (/\s/.test(v)) return 'version string has embedded spaces';
  const colon = v.indexOf(':');
  let rest = v;
  if (colon !== -1) {
    const epoch = v.slice(0, colon);
    if (!/^[0-9]+$/.test(epoch)) return 'epoch in version is not a number';
    if (BigInt(epoch) > 2147483647n) return 'epoch in version is too big';
    rest = v.slice(colon + 1);
    if (rest === '') return 'nothing after colon in version number';
  }
  const hyphen = rest.lastIndexOf('-');
  const upstream = hyphen === -1 ? rest : rest.slice(0, hyphen);
  const revision = hyphen === -1 ? undefined : rest.slice(hyphen + 1);
  if (revision === '') return 'revision number is empty';
  if (upstream === '') return 'version number is empty';
  if (!isAsciiDigit(upstream[0])) return 'version number does not start with digit';
  if (/[^0-9A-Za-z.+~:-]/.test(upstream)) return 'invalid character in version number';
  if (revision !== undefined && /[^0-9A-Za-z.+~]/.test(revision)) {
    return 'invalid character in revision number';
  }
  return undefined;
}

export function isValidDebianVersion(version: string): boolean {
  return debianVersionProblem(version) === undefined;
}
