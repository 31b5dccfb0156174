import { afterAll, describe, expect, it } from 'vitest';
import { canonicalMaven, compareMaven } from './maven.js';
import { checkTotalOrder, expectedSign, parseScalibr, reportCounts, signSymbol } from './test-helpers.js';

const counts: Record<string, number> = {};
afterAll(() => reportCounts('maven (ComparableVersion)', counts));

describe('maven: ComparableVersion order', () => {
  it('passes every vector of osv-scalibr maven-versions.txt', () => {
    const vectors = parseScalibr('maven-versions.txt');
    const failures = vectors.flatMap(({ a, op, b, where }) => {
      const ab = compareMaven(a, b);
      const ba = compareMaven(b, a);
      const want = expectedSign(op);
      return ab === want && ba === -want ? [] : [`${where}: ${a} ${op} ${b}: got ${signSymbol(ab)}`];
    });
    expect(failures).toEqual([]);
    expect(vectors.length).toBeGreaterThan(100);
    counts['osv-scalibr maven'] = vectors.length;
  });

  it('is a total order over every version in the vectors (antisymmetry, transitivity)', () => {
    const r = checkTotalOrder(
      parseScalibr('maven-versions.txt').flatMap((v) => [v.a, v.b]),
      compareMaven,
    );
    expect(r.violations).toEqual([]);
    counts['order check versions'] = r.versions;
    counts['order check pairs'] = r.pairs;
  });

  it('canonicalises like the Version Order Specification examples', () => {
    // The "splitting" and "trimming" examples of maven.apache.org/pom.html#Version_Order_Specification.
    const table: [string, string][] = [
      ['1-1.foo-bar1baz-.1', '1-1.foo-bar-1-baz-0.1'],
      ['1.0.0', '1'],
      ['1.ga', '1'],
      ['1.final', '1'],
      ['1.0', '1'],
      ['1.', '1'],
      ['1-', '1'],
      ['1.0.0-foo.0.0', '1-foo'],
      ['1.0.0-0.0.0', '1'],
    ];
    for (const [input, canonical] of table) expect(canonicalMaven(input), input).toBe(canonical);
  });
});
