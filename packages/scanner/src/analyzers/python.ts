/** Python: *.dist-info/METADATA and *.egg-info/PKG-INFO (or a PKG-INFO-format *.egg-info file) in site/dist-packages. */
import type { InstalledPackage } from '@palisade/protocol';
import { purl } from './purl.js';

/** PEP 503 normalised project name: lower-case, runs of "-", "_", "." become one "-". */
export function normalizePypiName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

export interface PythonRecord {
  name: string;
  version: string;
  license?: string;
}

/** The header block (up to the first blank line) of core metadata; repeated fields keep all values. */
export function parseCoreMetadata(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let last: string[] | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '') break;
    if ((line[0] === ' ' || line[0] === '\t') && last) {
      last[last.length - 1] += `\n${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      last = null;
      continue;
    }
    const key = line.slice(0, colon).trim().toLowerCase();
    const arr = out.get(key) ?? [];
    arr.push(line.slice(colon + 1).trim());
    out.set(key, arr);
    last = arr;
  }
  return out;
}

/**
 * Name/version/licence from METADATA or PKG-INFO. The licence is License-Expression (metadata 2.4),
 * else a short single-line License, else the "License ::" classifiers' last segments.
 */
export function parsePythonMetadata(text: string): PythonRecord | null {
  const h = parseCoreMetadata(text);
  const name = h.get('name')?.[0];
  const version = h.get('version')?.[0];
  if (!name || !version) return null;
  const rec: PythonRecord = { name, version };
  const expr = h.get('license-expression')?.[0];
  const lic = h.get('license')?.[0];
  if (expr) rec.license = expr;
  else if (lic && !lic.includes('\n') && lic.length <= 120 && lic.toUpperCase() !== 'UNKNOWN')
    rec.license = lic;
  else {
    const cls = (h.get('classifier') ?? [])
      .filter((c) => c.startsWith('License ::'))
      .map((c) => c.split('::').pop()?.trim() ?? '')
      .filter(Boolean);
    if (cls.length > 0) rec.license = cls.join(' AND ');
  }
  return rec;
}

/** True for a metadata file this analyzer reads. */
export function isPythonMetadata(rel: string): boolean {
  return /\/(site|dist)-packages\/[^/]+\.(dist-info\/METADATA|egg-info\/PKG-INFO|egg-info)$/.test(rel);
}

export function pythonPackage(rec: PythonRecord, location: string): InstalledPackage {
  const name = normalizePypiName(rec.name);
  const pkg: InstalledPackage = {
    name,
    version: rec.version,
    ecosystem: 'PyPI',
    purl: purl('pypi', undefined, name, rec.version),
    locations: [location],
  };
  if (rec.license) pkg.licenses = [rec.license];
  return pkg;
}
