import { afterAll, describe, expect, it } from 'vitest';
import { compareRpm, isValidRpmVersion, parseRpmVersion, rpmvercmp } from './rpm.js';
import {
  checkTotalOrder,
  expectedSign,
  listVectorFiles,
  parseScalibr,
  readVectorFile,
  reportCounts,
  signSymbol,
} from './test-helpers.js';

const counts: Record<string, number> = {};
afterAll(() => reportCounts('rpm (rpmvercmp)', counts));

interface RpmCase {
  a: string;
  b: string;
  want: number;
  disabled: boolean;
  where: string;
}

/**
 * rpm's tests/rpmvercmp.at: `RPMVERCMP(a, b, expected)` lines. Lines behind `dnl` are disabled upstream;
 * the file says they document current ("arguably buggy") behaviour for reference, so they are asserted
 * too and counted apart.
 */
function rpmCases(): RpmCase[] {
  const files = listVectorFiles('rpm');
  expect(files).toEqual(['rpmvercmp.at']);
  const out: RpmCase[] = [];
  readVectorFile('rpm', 'rpmvercmp.at')
    .split('\n')
    .forEach((line, i) => {
      const m = /^(dnl\s+)?RPMVERCMP\((.*)\)\s*$/.exec(line);
      if (!m) {
        if (/RPMVERCMP\(/.test(line)) throw new Error(`rpmvercmp.at:${i + 1}: unparsed ${line}`);
        return;
      }
      const args = (m[2] as string).split(', ');
      if (args.length !== 3 || !/^(-1|0|1)$/.test(args[2] as string)) {
        throw new Error(`rpmvercmp.at:${i + 1}: unparsed ${line}`);
      }
      out.push({
        a: args[0] as string,
        b: args[1] as string,
        want: Number(args[2]),
        disabled: m[1] !== undefined,
        where: `rpmvercmp.at:${i + 1}`,
      });
    });
  return out;
}

describe('rpm: rpmvercmp and EVR comparison', () => {
  it('passes every RPMVERCMP case of rpm tests/rpmvercmp.at', () => {
    const cases = rpmCases();
    const failures = cases.flatMap(({ a, b, want, where }) => {
      const got = rpmvercmp(a, b);
      // Without ':' or '-' the strings are bare versions, so the EVR comparison must agree.
      const evr = /[:-]/.test(a + b) ? want : compareRpm(a, b);
      return got === want && evr === want
        ? []
        : [`${where}: rpmvercmp(${a}, ${b}) = ${got}/${evr}, want ${want}`];
    });
    expect(failures).toEqual([]);
    const active = cases.filter((c) => !c.disabled).length;
    expect(active).toBeGreaterThan(80);
    counts['rpmvercmp.at active'] = active;
    counts['rpmvercmp.at dnl-disabled (oddities, asserted too)'] = cases.length - active;
  });

  it('passes every vector of osv-scalibr redhat-versions.txt (full EVR)', () => {
    const vectors = parseScalibr('redhat-versions.txt');
    const failures = vectors.flatMap(({ a, op, b, where }) => {
      const ab = compareRpm(a, b);
      const ba = compareRpm(b, a);
      const want = expectedSign(op);
      return ab === want && ba === -want ? [] : [`${where}: ${a} ${op} ${b}: got ${signSymbol(ab)}`];
    });
    expect(failures).toEqual([]);
    expect(vectors.length).toBeGreaterThan(150);
    counts['osv-scalibr redhat'] = vectors.length;
  });

  it('is a total order over every version in the vectors (antisymmetry, transitivity)', () => {
    const evrs = parseScalibr('redhat-versions.txt').flatMap((v) => [v.a, v.b]);
    const r = checkTotalOrder(evrs, compareRpm);
    expect(r.violations).toEqual([]);
    const plain = checkTotalOrder(
      rpmCases().flatMap((c) => [c.a, c.b]),
      rpmvercmp,
    );
    expect(plain.violations).toEqual([]);
    counts['order check versions'] = r.versions + plain.versions;
    counts['order check pairs'] = r.pairs + plain.pairs;
  });

  it('splits epoch, version and release as rpm does', () => {
    expect(parseRpmVersion('1:2.3-4.el9')).toEqual({ epoch: '1', version: '2.3', release: '4.el9' });
    expect(parseRpmVersion('2.3')).toEqual({ epoch: undefined, version: '2.3', release: undefined });
    // Only a leading run of digits followed by ':' is an epoch.
    expect(parseRpmVersion('a:1')).toEqual({ epoch: undefined, version: 'a:1', release: undefined });
    expect(isValidRpmVersion('0:4.18.0-348.el8')).toBe(true);
    expect(isValidRpmVersion('1-')).toBe(false);
    expect(isValidRpmVersion('')).toBe(false);
  });
});
