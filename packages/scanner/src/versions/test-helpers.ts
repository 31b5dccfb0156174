/**
 * Test helpers (used by the *.test.ts files of this folder only): readers for the published version
 * vectors in ../shared/testdata/versions (see SOURCES.md there) and an order-consistency check.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { sharedPath } from '@palisade/testdata';

export function readVectorFile(...segments: string[]): string {
  return readFileSync(sharedPath('testdata', 'versions', ...segments), 'utf8');
}

export function listVectorFiles(...segments: string[]): string[] {
  return readdirSync(sharedPath('testdata', 'versions', ...segments)).sort();
}

export interface ComparisonVector {
  a: string;
  op: '<' | '=' | '>';
  b: string;
  /** `file:line` for messages. */
  where: string;
}

/**
 * osv-scalibr's `semantic/testdata/*-versions.txt` (format from its compare_test.go): `a OP b` with OP one
 * of `<`, `=`, `>`, exactly three space-separated fields; blank lines and lines starting `# ` or `// `
 * are skipped. Anything else is an error, so a format change cannot silently drop vectors.
 */
export function parseScalibr(file: string): ComparisonVector[] {
  const out: ComparisonVector[] = [];
  readVectorFile('osv-scalibr', file)
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '' || line.startsWith('# ') || line.startsWith('// ')) return;
      const fields = line.split(' ');
      const [a, op, b] = fields;
      if (fields.length !== 3 || (op !== '<' && op !== '=' && op !== '>') || !a || !b) {
        throw new Error(`osv-scalibr/${file}:${i + 1}: not "a OP b": ${JSON.stringify(line)}`);
      }
      out.push({ a, op, b, where: `${file}:${i + 1}` });
    });
  return out;
}

/** The sign a comparator must return for a vector's operator. */
export const expectedSign = (op: '<' | '=' | '>'): -1 | 0 | 1 => (op === '<' ? -1 : op === '>' ? 1 : 0);
export const signSymbol = (c: number): string => (c < 0 ? '<' : c > 0 ? '>' : '=');

/**
 * Loads one of node-semver's test/fixtures/*.js (`module.exports = [...]`) in a fresh VM context. Two of
 * them require '../../internal/constants'; that one module is served with node-semver's values
 * (MAX_LENGTH 256, MAX_SAFE_INTEGER = Number.MAX_SAFE_INTEGER), any other require fails.
 */
export function loadNodeSemverFixture(name: string): unknown[] {
  const source = readVectorFile('node-semver', name);
  const module = { exports: {} as unknown };
  const require = (id: string): unknown => {
    if (id === '../../internal/constants') {
      return { MAX_LENGTH: 256, MAX_SAFE_INTEGER: Number.MAX_SAFE_INTEGER };
    }
    throw new Error(`node-semver fixture ${name} requires ${id}, which is not provided`);
  };
  runInNewContext(source, { module, exports: module.exports, require }, { filename: name });
  if (!Array.isArray(module.exports)) throw new Error(`node-semver fixture ${name} does not export an array`);
  return module.exports as unknown[];
}

/** node-semver's parseOptions: falsy → {}, a non-object → loose, an object as it is. */
export function nodeSemverOptions(opt: unknown): { loose: boolean; includePrerelease: boolean } {
  if (!opt) return { loose: false, includePrerelease: false };
  if (typeof opt !== 'object') return { loose: true, includePrerelease: false };
  const o = opt as { loose?: unknown; includePrerelease?: unknown };
  return { loose: Boolean(o.loose), includePrerelease: Boolean(o.includePrerelease) };
}

export interface OrderCheck {
  versions: number;
  classes: number;
  pairs: number;
  violations: string[];
}

/**
 * Property check over a set of versions: sorts them, groups equal neighbours into classes, then checks
 * every pair (both ways) against the class ranks. If every pair agrees, `compare` is reflexive,
 * antisymmetric and transitive on the set (it is exactly the total preorder given by the ranks); any
 * violation of those laws makes some pair disagree.
 */
export function checkTotalOrder(
  input: Iterable<string>,
  compare: (a: string, b: string) => number,
): OrderCheck {
  const versions = [...new Set(input)].sort(compare);
  const rank: number[] = [];
  versions.forEach((v, i) => {
    rank.push(i === 0 ? 0 : (rank[i - 1] as number) + (compare(versions[i - 1] as string, v) < 0 ? 1 : 0));
  });
  const violations: string[] = [];
  let pairs = 0;
  for (let i = 0; i < versions.length; i++) {
    for (let j = i; j < versions.length; j++) {
      const a = versions[i] as string;
      const b = versions[j] as string;
      const want = Math.sign((rank[i] as number) - (rank[j] as number));
      const ab = Math.sign(compare(a, b));
      const ba = Math.sign(compare(b, a));
      pairs++;
      if (ab !== want || ba !== -want) {
        violations.push(
          `${a} ${signSymbol(ab)} ${b} but ${b} ${signSymbol(ba)} ${a} (expected ${signSymbol(want)} by order)`,
        );
        if (violations.length >= 20) return { versions: versions.length, classes: 0, pairs, violations };
      }
    }
  }
  return { versions: versions.length, classes: (rank.at(-1) ?? -1) + 1, pairs, violations };
}

/** One line per comparator in the test output: what was asserted and what was left out, and why. */
export function reportCounts(scheme: string, counts: Record<string, number>): void {
  const parts = Object.entries(counts).map(([k, n]) => `${k}: ${n}`);
  console.log(`[versions] ${scheme} — ${parts.join(', ')}`);
}
