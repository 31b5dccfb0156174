import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedPath } from '@palisade/testdata';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidVersionError } from './common.js';
import { compareSemver, isValidRange, isValidSemver, parseRange, parseSemver, satisfies } from './semver.js';
import {
  checkTotalOrder,
  expectedSign,
  loadNodeSemverFixture,
  nodeSemverOptions,
  parseScalibr,
  reportCounts,
  signSymbol,
} from './test-helpers.js';

const counts: Record<string, number> = {};
afterAll(() => reportCounts('semver (npm, Go, crates.io)', counts));

/**
 * node-semver fixtures are `[a, b, options]` rows. Loose mode (options `true` or `{ loose: truthy }`) is
 * out of scope: this parser is strict SemVer 2.0. A loose row is still asserted when every version in it
 * is strict SemVer (loose parsing reads a strict version exactly as strict parsing does, so the flag
 * cannot change the expected result); the other loose rows are filtered and counted.
 */
function versionRows(name: string): { rows: [string, string][]; viaLoose: number; filtered: number } {
  const rows: [string, string][] = [];
  let viaLoose = 0;
  let filtered = 0;
  for (const [a, b, opt] of loadNodeSemverFixture(name) as unknown[][]) {
    if (nodeSemverOptions(opt).loose) {
      if (!isValidSemver(a) || !isValidSemver(b)) {
        filtered++;
        continue;
      }
      viaLoose++;
    }
    rows.push([a as string, b as string]);
  }
  return { rows, viaLoose, filtered };
}

/** Range rows `[range, version, options]`: loose ones are all filtered (loose ranges are another grammar). */
function rangeRows(name: string): { rows: unknown[][]; filtered: number } {
  const all = loadNodeSemverFixture(name) as unknown[][];
  const rows = all.filter((r) => !nodeSemverOptions(r[2]).loose);
  return { rows, filtered: all.length - rows.length };
}

function scalibrSemver() {
  const vectors = parseScalibr('semver-versions.txt');
  // osv-scalibr's semver comparator is lenient (missing or extra components, numbers of any size, as in
  // `0 < 1` or `1.1.3.4.5`); this one is strict SemVer 2.0, so rows with a non-SemVer side are filtered:
  // they must be rejected with InvalidVersionError rather than compared.
  const strict = vectors.filter((v) => isValidSemver(v.a) && isValidSemver(v.b));
  return { strict, lenient: vectors.filter((v) => !strict.includes(v)) };
}

describe('semver: node-semver fixtures', () => {
  it('comparisons.js: the first version is greater', () => {
    const { rows, viaLoose, filtered } = versionRows('comparisons.js');
    const failures = rows.flatMap(([a, b]) =>
      compareSemver(a, b) === 1 && compareSemver(b, a) === -1 ? [] : [`${a} > ${b}`],
    );
    expect(failures).toEqual([]);
    counts['comparisons.js passed'] = rows.length;
    counts['comparisons.js loose-flagged rows with strict inputs (included above)'] = viaLoose;
    counts['comparisons.js filtered (loose)'] = filtered;
  });

  it('equality.js: the versions are equal (build metadata ignored)', () => {
    const { rows, viaLoose, filtered } = versionRows('equality.js');
    const failures = rows.flatMap(([a, b]) =>
      compareSemver(a, b) === 0 && compareSemver(b, a) === 0 ? [] : [`${a} = ${b}`],
    );
    expect(failures).toEqual([]);
    counts['equality.js passed'] = rows.length;
    counts['equality.js loose-flagged rows with strict inputs (included above)'] = viaLoose;
    counts['equality.js filtered (loose: "=1.2.3", "v 1.2.3")'] = filtered;
  });

  it('valid-versions.js: parses into the listed parts', () => {
    const rows = loadNodeSemverFixture('valid-versions.js') as unknown[][];
    for (const [version, major, minor, patch, pre, build] of rows) {
      const v = parseSemver(version as string);
      expect([v.major, v.minor, v.patch].map(Number), String(version)).toEqual([major, minor, patch]);
      expect(v.prerelease, String(version)).toEqual((pre as unknown[]).map(String));
      expect(v.build, String(version)).toEqual((build as unknown[]).map(String));
    }
    counts['valid-versions.js passed'] = rows.length;
  });

  it('invalid-versions.js: rejected with InvalidVersionError', () => {
    // Loose rows are kept: what loose mode rejects, strict mode rejects too.
    const rows = loadNodeSemverFixture('invalid-versions.js') as unknown[][];
    for (const [value, reason] of rows) {
      expect(isValidSemver(value), String(reason)).toBe(false);
      expect(() => parseSemver(value as string), String(reason)).toThrow(InvalidVersionError);
    }
    counts['invalid-versions.js passed'] = rows.length;
  });

  for (const [file, expected] of [
    ['range-include.js', true],
    ['range-exclude.js', false],
  ] as const) {
    it(`${file}: satisfies() is ${expected} (includePrerelease supported)`, () => {
      const { rows, filtered } = rangeRows(file);
      const failures = rows.flatMap(([range, version, opt]) => {
        const { includePrerelease } = nodeSemverOptions(opt);
        const got = satisfies(version as string, range as string, { includePrerelease });
        return got === expected
          ? []
          : [`${JSON.stringify(range)} ${JSON.stringify(version)} ${JSON.stringify(opt)}`];
      });
      expect(failures).toEqual([]);
      counts[`${file} passed`] = rows.length;
      counts[`${file} filtered (loose)`] = filtered;
    });
  }
});

describe('semver: osv-scalibr semver-versions.txt', () => {
  it('passes every strict SemVer 2.0 vector', () => {
    const { strict, lenient } = scalibrSemver();
    for (const v of lenient) {
      expect(() => compareSemver(v.a, v.b), v.where).toThrow(InvalidVersionError);
    }
    const failures = strict.flatMap(({ a, op, b, where }) => {
      const ab = compareSemver(a, b);
      const ba = compareSemver(b, a);
      const want = expectedSign(op);
      return ab === want && ba === -want ? [] : [`${where}: ${a} ${op} ${b}: got ${signSymbol(ab)}`];
    });
    expect(failures).toEqual([]);
    expect(strict.length).toBeGreaterThan(70);
    counts['osv-scalibr semver passed'] = strict.length;
    counts['osv-scalibr semver filtered (not strict SemVer)'] = lenient.length;
  });

  it('is a total order over every SemVer version in the vectors (antisymmetry, transitivity)', () => {
    const all = [
      ...versionRows('comparisons.js').rows.flat(),
      ...versionRows('equality.js').rows.flat(),
      ...(loadNodeSemverFixture('valid-versions.js') as unknown[][]).map((r) => r[0] as string),
      ...rangeRows('range-include.js').rows.map((r) => r[1]),
      ...rangeRows('range-exclude.js').rows.map((r) => r[1]),
      ...scalibrSemver().strict.flatMap((v) => [v.a, v.b]),
    ].filter((v): v is string => isValidSemver(v));
    const r = checkTotalOrder(all, compareSemver);
    expect(r.violations).toEqual([]);
    counts['order check versions'] = r.versions;
    counts['order check pairs'] = r.pairs;
  });
});

/** Every requirement string of the RustSec advisories in vulndata (`patched` / `unaffected` arrays). */
function rustsecRequirements(): string[] {
  const root = sharedPath('vulndata', 'osv', 'crates.io');
  const out: string[] = [];
  for (const crate of readdirSync(root)) {
    for (const file of readdirSync(join(root, crate))) {
      const text = readFileSync(join(root, crate, file), 'utf8');
      for (const m of text.matchAll(/^(?:patched|unaffected)\s*=\s*\[([^\]]*)\]/gm)) {
        for (const s of (m[1] as string).matchAll(/"([^"]*)"/g)) out.push(s[1] as string);
      }
    }
  }
  return out;
}

describe('semver: Cargo requirements (RustSec)', () => {
  it('parses every requirement of the RustSec advisories in vulndata', () => {
    const reqs = rustsecRequirements();
    expect(reqs.length).toBeGreaterThan(500);
    const bad = reqs.filter((r) => !isValidRange(r, { syntax: 'cargo' }));
    expect(bad).toEqual([]);
    counts['RustSec requirement strings parsed'] = reqs.length;
  });

  it('follows the Cargo reference for caret, tilde, wildcard and comparison requirements', () => {
    // Examples from the Cargo book, "Specifying Dependencies" (doc.rust-lang.org/cargo).
    const table: [string, string[], string[]][] = [
      ['1.2.3', ['1.2.3', '1.9.0'], ['1.2.2', '2.0.0']],
      ['^1.2', ['1.2.0', '1.99.0'], ['1.1.9', '2.0.0']],
      ['0.2.3', ['0.2.3', '0.2.9'], ['0.3.0', '0.2.2']],
      ['^0.3', ['0.3.0', '0.3.7'], ['0.4.0', '0.2.9']],
      ['0.0.3', ['0.0.3'], ['0.0.4', '0.0.2']],
      ['0.0', ['0.0.0', '0.0.9'], ['0.1.0']],
      ['0', ['0.0.0', '0.9.9'], ['1.0.0']],
      ['~1.2.3', ['1.2.3', '1.2.9'], ['1.3.0']],
      ['~1.2', ['1.2.0', '1.2.9'], ['1.3.0']],
      ['~1', ['1.0.0', '1.9.9'], ['2.0.0']],
      ['*', ['0.0.1', '99.0.0'], []],
      ['1.*', ['1.0.0', '1.9.0'], ['2.0.0', '0.9.0']],
      ['1.2.*', ['1.2.0', '1.2.9'], ['1.3.0']],
      ['>= 1.2.0', ['1.2.0', '5.0.0'], ['1.1.9']],
      ['>= 1.2, < 1.5', ['1.2.0', '1.4.9'], ['1.5.0', '1.1.0']],
      ['= 1.2.3', ['1.2.3'], ['1.2.4']],
      ['< 0.12', ['0.11.9'], ['0.12.0']],
      ['>= 0.12.3, < 0.13.0', ['0.12.3'], ['0.13.0', '0.13.0-alpha.1', '0.12.4-rc.1']],
    ];
    for (const [req, yes, no] of table) {
      for (const v of yes) expect(satisfies(v, req, { syntax: 'cargo' }), `${v} in ${req}`).toBe(true);
      for (const v of no) expect(satisfies(v, req, { syntax: 'cargo' }), `${v} not in ${req}`).toBe(false);
    }
    expect(() => parseRange('>= 1.2 ||', { syntax: 'cargo' })).toThrow(InvalidVersionError);
    expect(() => parseRange('', { syntax: 'cargo' })).toThrow(InvalidVersionError);
  });

  it('throws a clear error for a range it cannot parse, and never matches an invalid version', () => {
    expect(() => satisfies('1.2.3', '>=1.2.3 <banana')).toThrow(
      /invalid npm range ">=1.2.3 <banana": "banana" in "banana" is not a number/,
    );
    expect(satisfies('1.2', '*')).toBe(false);
    expect(() => compareSemver('1.2', '1.2.0')).toThrow(
      /invalid SemVer 2.0 version "1.2": expected MAJOR.MINOR.PATCH/,
    );
    expect(() => compareSemver('1.2.3-01', '1.2.3')).toThrow(/leading zero/);
  });
});
