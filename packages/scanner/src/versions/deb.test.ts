import { afterAll, describe, expect, it } from 'vitest';
import { compareDebian, isValidDebianVersion } from './deb.js';
import {
  checkTotalOrder,
  expectedSign,
  parseScalibr,
  readVectorFile,
  reportCounts,
  signSymbol,
} from './test-helpers.js';

const counts: Record<string, number> = {};
afterAll(() => reportCounts('deb (dpkg)', counts));

/** dpkg's scripts/t/Dpkg_Version.t __DATA__: `verA verB expected`, expected = sign of compare(verA, verB). */
function dpkgVectors(): { a: string; b: string; want: number; where: string }[] {
  return readVectorFile('dpkg', 'Dpkg_Version.data.txt')
    .split('\n')
    .flatMap((line, i) => {
      if (line.trim() === '') return [];
      const f = line.trim().split(/\s+/);
      if (f.length !== 3 || !/^-?1$|^0$/.test(f[2] as string)) {
        throw new Error(`Dpkg_Version.data.txt:${i + 1}: ${line}`);
      }
      return [
        { a: f[0] as string, b: f[1] as string, want: Number(f[2]), where: `Dpkg_Version.data.txt:${i + 1}` },
      ];
    });
}

describe('deb: dpkg version comparison', () => {
  it('passes every vector of dpkg Dpkg_Version.t', () => {
    const vectors = dpkgVectors();
    const failures = vectors.flatMap(({ a, b, want, where }) => {
      const ab = compareDebian(a, b);
      const ba = compareDebian(b, a);
      return ab === want && ba === -want ? [] : [`${where}: ${a} vs ${b}: got ${ab}/${ba}, want ${want}`];
    });
    expect(failures).toEqual([]);
    expect(vectors.length).toBe(43);
    counts['dpkg Dpkg_Version.t'] = vectors.length;
  });

  it('passes every vector of osv-scalibr debian-versions.txt', () => {
    const vectors = parseScalibr('debian-versions.txt');
    const failures = vectors.flatMap(({ a, op, b, where }) => {
      const ab = compareDebian(a, b);
      const ba = compareDebian(b, a);
      const want = expectedSign(op);
      return ab === want && ba === -want ? [] : [`${where}: ${a} ${op} ${b}: got ${signSymbol(ab)}`];
    });
    expect(failures).toEqual([]);
    expect(vectors.length).toBeGreaterThan(20);
    counts['osv-scalibr debian'] = vectors.length;
  });

  it('is a total order over every version in the vectors (antisymmetry, transitivity)', () => {
    const all = [
      ...dpkgVectors().flatMap((v) => [v.a, v.b]),
      ...parseScalibr('debian-versions.txt').flatMap((v) => [v.a, v.b]),
    ];
    const r = checkTotalOrder(all, compareDebian);
    expect(r.violations).toEqual([]);
    counts['order check versions'] = r.versions;
    counts['order check pairs'] = r.pairs;
  });

  it('knows what dpkg accepts', () => {
    // Every version in the vector files is well-formed for dpkg.
    for (const v of dpkgVectors().flatMap((x) => [x.a, x.b])) expect(isValidDebianVersion(v), v).toBe(true);
    // dpkg's parseversion errors and warnings (lib/dpkg/parsehelp.c messages).
    for (const v of ['', 'a:1.0', '1:', '1.0-', 'foo', '1.0 2', '1.0-a_b', '1.0$']) {
      expect(isValidDebianVersion(v), v).toBe(false);
    }
    // Lenient comparison never throws, even where dpkg would refuse the input.
    expect(compareDebian('a:1', 'a:1')).toBe(0);
  });
});
