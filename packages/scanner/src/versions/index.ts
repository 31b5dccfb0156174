/**
 * Version comparison per ecosystem (OSV ecosystem names). Each scheme lives in its own module:
 * deb.ts (dpkg), apk.ts (apk-tools), rpm.ts (rpmvercmp + EVR), semver.ts (SemVer 2.0 and ranges),
 * pep440.ts (PEP 440), maven.ts (Maven ComparableVersion). See README.md for the rules and limits.
 */
import type { Ecosystem } from '@palisade/protocol';
import { compareApk, isValidApkVersion } from './apk.js';
import { InvalidVersionError } from './common.js';
import { compareDebian, isValidDebianVersion } from './deb.js';
import { compareMaven, isValidMavenVersion } from './maven.js';
import { comparePep440, isValidPep440 } from './pep440.js';
import { compareRpm, isValidRpmVersion } from './rpm.js';
import { compareSemver, isValidSemver } from './semver.js';

export { InvalidVersionError } from './common.js';
export { isValidRange, type RangeOptions, satisfies } from './semver.js';

interface Scheme {
  compare(a: string, b: string): -1 | 0 | 1;
  isValid(v: string): boolean;
}

const SEMVER: Scheme = { compare: compareSemver, isValid: isValidSemver };

const SCHEMES: Record<Ecosystem, Scheme> = {
  Debian: { compare: compareDebian, isValid: isValidDebianVersion },
  Alpine: { compare: compareApk, isValid: isValidApkVersion },
  'Red Hat': { compare: compareRpm, isValid: isValidRpmVersion },
  npm: SEMVER,
  Go: SEMVER,
  'crates.io': SEMVER,
  PyPI: { compare: comparePep440, isValid: isValidPep440 },
  Maven: { compare: compareMaven, isValid: isValidMavenVersion },
};

function scheme(ecosystem: Ecosystem): Scheme {
  const s = Object.hasOwn(SCHEMES, ecosystem) ? SCHEMES[ecosystem] : undefined;
  if (!s) throw new TypeError(`no version scheme for ecosystem ${JSON.stringify(ecosystem)}`);
  return s;
}

/**
 * Compares two versions of one ecosystem: -1 when `a` is older, 0 when they are equal in precedence,
 * 1 when `a` is newer. Throws InvalidVersionError for input the scheme defines as invalid (SemVer for
 * npm/Go/crates.io, PEP 440 for PyPI); Debian, Alpine, Red Hat and Maven compare anything, as their tools do.
 */
export function compareVersions(ecosystem: Ecosystem, a: string, b: string): -1 | 0 | 1 {
  const s = scheme(ecosystem);
  try {
    return s.compare(a, b);
  } catch (e) {
    if (e instanceof InvalidVersionError && e.ecosystem === undefined) {
      throw new InvalidVersionError(e.scheme, e.input, e.reason, ecosystem);
    }
    throw e;
  }
}

/** Whether `v` is a well-formed version of the ecosystem (for Debian/Alpine/Red Hat: as their tools accept it). */
export function isValidVersion(ecosystem: Ecosystem, v: string): boolean {
  return typeof v === 'string' && scheme(ecosystem).isValid(v);
}
