import type { Ecosystem } from '@palisade/protocol';

/**
 * Package-name normalization, applied to feed names when the DB is built and to inventory names when
 * matching, so both sides meet:
 * - PyPI: PEP 503 (lower case, runs of "-", "_", "." → "-").
 * - crates.io: lower case, "_" → "-" (crates.io refuses names that differ only in case or -/_).
 * - npm: lower case.
 * - Go, Maven and the distros: unchanged (Go module paths are case-sensitive; distro names are exact).
 */
export function normalizePackageName(ecosystem: Ecosystem, name: string): string {
  const n = name.trim();
  switch (ecosystem) {
    case 'PyPI':
      return n.toLowerCase().replace(/[-_.]+/g, '-');
    case 'crates.io':
      return n.toLowerCase().replace(/_/g, '-');
    case 'npm':
      return n.toLowerCase();
    default:
      return n;
  }
}
