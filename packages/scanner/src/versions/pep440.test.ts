import { afterAll, describe, expect, it } from 'vitest';
import { InvalidVersionError } from './common.js';
import { comparePep440, isValidPep440, normalizePep440 } from './pep440.js';
import { checkTotalOrder, expectedSign, parseScalibr, reportCounts, signSymbol } from './test-helpers.js';

const counts: Record<string, number> = {};
afterAll(() => reportCounts('pep440 (PyPI)', counts));

function vectors() {
  const all = parseScalibr('pypi-versions.txt');
  // The file keeps "legacy" (pre-PEP 440) versions such as `0.1-bulbasaur` that packaging < 22 ordered
  // with its LegacyVersion; they are not PEP 440 and out of scope: filtered, and must throw.
  const pep440 = all.filter((v) => isValidPep440(v.a) && isValidPep440(v.b));
  return { pep440, legacy: all.filter((v) => !pep440.includes(v)) };
}

describe('pep440: PyPI version comparison', () => {
  it('passes every PEP 440 vector of osv-scalibr pypi-versions.txt', () => {
    const { pep440, legacy } = vectors();
    for (const v of legacy) expect(() => comparePep440(v.a, v.b), v.where).toThrow(InvalidVersionError);
    const failures = pep440.flatMap(({ a, op, b, where }) => {
      const ab = comparePep440(a, b);
      const ba = comparePep440(b, a);
      const want = expectedSign(op);
      return ab === want && ba === -want ? [] : [`${where}: ${a} ${op} ${b}: got ${signSymbol(ab)}`];
    });
    expect(failures).toEqual([]);
    expect(pep440.length).toBeGreaterThan(20);
    counts['osv-scalibr pypi passed'] = pep440.length;
    counts['osv-scalibr pypi filtered (legacy, not PEP 440)'] = legacy.length;
  });

  it('is a total order over every version in the vectors (antisymmetry, transitivity)', () => {
    const r = checkTotalOrder(
      vectors().pep440.flatMap((v) => [v.a, v.b]),
      comparePep440,
    );
    expect(r.violations).toEqual([]);
    counts['order check versions'] = r.versions;
    counts['order check pairs'] = r.pairs;
  });

  it('normalises as PEP 440 describes', () => {
    // Examples from the "Normalization" section of the PyPA version specifiers spec.
    const table: [string, string][] = [
      ['1.0.0-ALPHA.1', '1.0.0a1'],
      ['1.1a1', '1.1a1'],
      ['1.1.alpha1', '1.1a1'],
      ['1.1-beta-2', '1.1b2'],
      ['1.1c1', '1.1rc1'],
      ['1.1pre1', '1.1rc1'],
      ['1.1preview1', '1.1rc1'],
      ['1.2a', '1.2a0'],
      ['1.2.post', '1.2.post0'],
      ['1.2-r4', '1.2.post4'],
      ['1.2_rev_4', '1.2.post4'],
      ['1.0-1', '1.0.post1'],
      ['1.2-dev2', '1.2.dev2'],
      ['1.2dev', '1.2.dev0'],
      ['1.0+ubuntu-1', '1.0+ubuntu.1'],
      ['v1.0', '1.0'],
      ['  1.0\n', '1.0'],
      ['00!01.002', '1.2'],
      ['1!2.0', '1!2.0'],
    ];
    for (const [input, normal] of table) expect(normalizePep440(input), JSON.stringify(input)).toBe(normal);
    for (const bad of ['', '1.0.', 'a1', '1.0+', '1.0+a..b', '1-2-3', 'french toast', '1.0-alpha-beta']) {
      expect(isValidPep440(bad), bad).toBe(false);
    }
    expect(() => comparePep440('0.1-bulbasaur', '1.0')).toThrow(/invalid PEP 440 version "0.1-bulbasaur"/);
  });
});
