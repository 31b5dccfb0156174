import type { InstalledPackage } from '@palisade/protocol';

/** Code-unit order, the same on every machine and locale (unlike `localeCompare`). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Packages in a stable order: ecosystem, name, version, purl, then where they were found. */
export function sortPackages(packages: readonly InstalledPackage[]): InstalledPackage[] {
  return [...packages].sort(
    (a, b) =>
      compareText(a.ecosystem, b.ecosystem) ||
      compareText(a.name, b.name) ||
      compareText(a.version, b.version) ||
      compareText(a.purl, b.purl) ||
      compareText(a.locations.join('\n'), b.locations.join('\n')),
  );
}

/** Ecosystems whose packages are installed by the distribution's package manager. */
export function isOsEcosystem(ecosystem: string): boolean {
  return ecosystem === 'Debian' || ecosystem === 'Alpine' || ecosystem === 'Red Hat';
}
