import type { Ecosystem } from '@palisade/protocol';
import { compareVersions } from '../versions/index.js';

export type VersionCompare = (a: string, b: string) => number;

/**
 * Version spelling differences between inventories and feeds that are not the comparator's business:
 * Go inventories carry "v1.2.3" (and the toolchain "go1.21.3"); OSV Go ranges use "1.2.3".
 */
export function normalizeVersion(ecosystem: Ecosystem, version: string): string {
  const v = version.trim();
  if (ecosystem === 'Go') return v.replace(/^go(?=\d)/, '').replace(/^v(?=\d)/, '');
  if (ecosystem === 'crates.io' || ecosystem === 'npm') return v.replace(/^v(?=\d)/, '');
  return v;
}

/** The comparator for an ecosystem (the shared one from ../versions), with version spelling normalized. */
export function comparatorFor(ecosystem: Ecosystem): VersionCompare {
  return (a, b) => compareVersions(ecosystem, normalizeVersion(ecosystem, a), normalizeVersion(ecosystem, b));
}
