/** npm: package-lock.json / npm-shrinkwrap.json (lockfileVersion 1, 2, 3) and installed node_modules. */
import type { InstalledPackage } from '@palisade/protocol';
import { purl } from './purl.js';

export interface NpmRecord {
  name: string;
  version: string;
  license?: string;
}

const SEMVER = /^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?$/;

/** "npm:real-name@1.2.3" (an alias) → { name: real-name, version: 1.2.3 }. */
function unalias(name: string, version: string): { name: string; version: string } {
  if (version.startsWith('npm:')) {
    const spec = version.slice(4);
    const at = spec.lastIndexOf('@');
    if (at > 0) return { name: spec.slice(0, at), version: spec.slice(at + 1) };
  }
  return { name, version };
}

function licenseOf(v: unknown): string | undefined {
  if (typeof v === 'string' && v.trim()) return v.trim();
  if (v && typeof v === 'object' && typeof (v as { type?: unknown }).type === 'string') {
    return (v as { type: string }).type;
  }
  return undefined;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class NpmLockError extends Error {}

/**
 * Installed (non-dev) dependencies listed in a lockfile. Version 2/3 files are read from `packages`
 * (keys "node_modules/a", "node_modules/a/node_modules/@s/b"); version 1 from the nested
 * `dependencies` tree. Dev-only entries (dev, devOptional), links, the root project, workspace
 * folders and non-registry versions (git URLs, file: paths) are left out.
 */
export function parsePackageLock(doc: unknown): NpmRecord[] {
  if (!isObj(doc)) throw new NpmLockError('lockfile is not a JSON object');
  const out: NpmRecord[] = [];
  const push = (name: string, version: string, license?: string) => {
    const u = unalias(name, version);
    if (!u.name || !SEMVER.test(u.version)) return;
    const r: NpmRecord = { name: u.name, version: u.version.replace(/^v/, '') };
    if (license) r.license = license;
    out.push(r);
  };
  const lv = typeof doc.lockfileVersion === 'number' ? doc.lockfileVersion : 1;
  if (lv >= 2 && isObj(doc.packages)) {
    for (const [key, entry] of Object.entries(doc.packages)) {
      if (key === '' || !isObj(entry)) continue;
      const nm = key.lastIndexOf('node_modules/');
      if (nm < 0) continue; // workspace folder
      if (entry.link === true || entry.dev === true || entry.devOptional === true) continue;
      if (typeof entry.version !== 'string') continue;
      const name = typeof entry.name === 'string' ? entry.name : key.slice(nm + 'node_modules/'.length);
      push(name, entry.version, licenseOf(entry.license));
    }
    return out;
  }
  if (lv >= 2 && !isObj(doc.packages) && !isObj(doc.dependencies)) {
    throw new NpmLockError(`lockfileVersion ${lv} without "packages"`);
  }
  const walk = (deps: unknown, depth: number) => {
    if (!isObj(deps) || depth > 64) return;
    for (const [name, entry] of Object.entries(deps)) {
      if (!isObj(entry)) continue;
      if (entry.dev !== true && typeof entry.version === 'string') push(name, entry.version);
      walk(entry.dependencies, depth + 1);
    }
  };
  walk(doc.dependencies, 0);
  return out;
}

/** True for ".../node_modules/<name>/package.json" or ".../node_modules/@scope/<name>/package.json". */
export function isInstalledPackageJson(rel: string): boolean {
  return /\/node_modules\/(?:@[^/]+\/)?[^/@.][^/]*\/package\.json$/.test(rel);
}

/** True for a lockfile that describes an application (not one shipped inside node_modules). */
export function isLockfile(rel: string): boolean {
  return /\/(package-lock|npm-shrinkwrap)\.json$/.test(rel) && !rel.includes('/node_modules/');
}

/** The package described by an installed package.json, or null when it has no name/version. */
export function parseInstalledPackageJson(doc: unknown): NpmRecord | null {
  if (!isObj(doc)) return null;
  const { name, version } = doc;
  if (typeof name !== 'string' || !name || typeof version !== 'string' || !SEMVER.test(version)) return null;
  const r: NpmRecord = { name, version: version.replace(/^v/, '') };
  let lic = licenseOf(doc.license);
  if (!lic && Array.isArray(doc.licenses)) {
    const all = doc.licenses.map(licenseOf).filter((x): x is string => !!x);
    if (all.length > 0) lic = all.join(' OR ');
  }
  if (lic) r.license = lic;
  return r;
}

export function npmPackage(rec: NpmRecord, location: string): InstalledPackage {
  const slash = rec.name.startsWith('@') ? rec.name.indexOf('/') : -1;
  const ns = slash > 0 ? rec.name.slice(0, slash) : undefined;
  const base = slash > 0 ? rec.name.slice(slash + 1) : rec.name;
  const pkg: InstalledPackage = {
    name: rec.name,
    version: rec.version,
    ecosystem: 'npm',
    purl: purl('npm', ns, base, rec.version),
    locations: [location],
  };
  if (rec.license) pkg.licenses = [rec.license];
  return pkg;
}
