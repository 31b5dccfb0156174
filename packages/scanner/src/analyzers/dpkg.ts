/** dpkg: var/lib/dpkg/status and distroless var/lib/dpkg/status.d/* (deb822 control paragraphs). */
import { readdir } from 'node:fs/promises';
import type { InstalledPackage, OsInfo } from '@palisade/protocol';
import { readFileInRoot, resolveInRoot } from './fsroot.js';
import { purl } from './purl.js';
import { type AnalyzerContext, distroQualifier, errorMessage } from './types.js';

export type Paragraph = Map<string, string>;

/**
 * Splits deb822 text into paragraphs of fields. Field names are case-insensitive (kept as first
 * seen, looked up lower-cased); continuation lines (leading space/tab) are joined with "\n".
 * Lines that are neither fields nor continuations are reported through `onBadLine`.
 */
export function parseDeb822(text: string, onBadLine?: (lineNo: number, line: string) => void): Paragraph[] {
  const paragraphs: Paragraph[] = [];
  let cur: Paragraph | null = null;
  let lastKey: string | null = null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, '');
    if (line.trim() === '') {
      if (cur && cur.size > 0) paragraphs.push(cur);
      cur = null;
      lastKey = null;
      continue;
    }
    if (line[0] === ' ' || line[0] === '\t') {
      if (cur && lastKey !== null) cur.set(lastKey, `${cur.get(lastKey)}\n${line.trim()}`);
      else onBadLine?.(i + 1, line);
      continue;
    }
    if (line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      onBadLine?.(i + 1, line);
      continue;
    }
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    cur ??= new Map();
    cur.set(key, value);
    lastKey = key;
  }
  if (cur && cur.size > 0) paragraphs.push(cur);
  return paragraphs;
}

export interface DpkgRecord {
  name: string;
  version: string;
  arch?: string;
  sourceName: string;
  sourceVersion: string;
  status?: string;
}

/**
 * True for an installed package: Status "<want> ok installed" with want install or hold
 * (a held package is installed too). A paragraph without Status counts as installed only when
 * `statusOptional` (distroless status.d files carry no Status field).
 */
export function isInstalled(status: string | undefined, statusOptional: boolean): boolean {
  if (status === undefined) return statusOptional;
  const [want, flag, state] = status.split(/\s+/);
  return (want === 'install' || want === 'hold') && flag === 'ok' && state === 'installed';
}

/** Parses a status file into installed package records; malformed paragraphs are reported and skipped. */
export function parseDpkgStatus(
  text: string,
  opts: { statusOptional?: boolean; warn?: (msg: string) => void } = {},
): DpkgRecord[] {
  const out: DpkgRecord[] = [];
  let bad = 0;
  const paragraphs = parseDeb822(text, () => {
    bad++;
  });
  if (bad > 0) opts.warn?.(`${bad} malformed line(s) ignored`);
  for (const p of paragraphs) {
    const name = p.get('package');
    const version = p.get('version');
    if (!name || !version) {
      opts.warn?.(`paragraph without ${name ? 'Version' : 'Package'} skipped${name ? ` (${name})` : ''}`);
      continue;
    }
    if (!isInstalled(p.get('status'), opts.statusOptional ?? false)) continue;
    let sourceName = name;
    let sourceVersion = version;
    const src = p.get('source');
    if (src) {
      const m = /^(\S+)(?:\s+\(([^)]+)\))?/.exec(src);
      if (m) {
        sourceName = m[1] as string;
        if (m[2]) sourceVersion = (m[2] as string).trim();
      }
    }
    const rec: DpkgRecord = { name, version, sourceName, sourceVersion };
    const arch = p.get('architecture');
    if (arch) rec.arch = arch;
    const status = p.get('status');
    if (status) rec.status = status;
    out.push(rec);
  }
  return out;
}

/**
 * InstalledPackage for a dpkg record. Ecosystem is 'Debian' for every dpkg-based distro (Ubuntu too:
 * the protocol has no Ubuntu ecosystem); the purl namespace and distro qualifier carry the real OS.
 */
export function dpkgPackage(rec: DpkgRecord, os: OsInfo | null, location: string): InstalledPackage {
  const ns = os?.id || 'debian';
  const pkg: InstalledPackage = {
    name: rec.name,
    version: rec.version,
    ecosystem: 'Debian',
    sourceName: rec.sourceName,
    sourceVersion: rec.sourceVersion,
    purl: purl('deb', ns, rec.name, rec.version, { arch: rec.arch, distro: distroQualifier(os) }),
    locations: [location],
  };
  if (rec.arch) pkg.arch = rec.arch;
  return pkg;
}

export const DPKG_PATHS = ['/var/lib/dpkg/status', '/var/lib/dpkg/status.d/*'];

export async function analyzeDpkg(ctx: AnalyzerContext): Promise<InstalledPackage[]> {
  const out: InstalledPackage[] = [];
  const files: Array<{ rel: string; statusOptional: boolean }> = [];
  files.push({ rel: '/var/lib/dpkg/status', statusOptional: false });
  const dHost = await resolveInRoot(ctx.rootDir, 'var/lib/dpkg/status.d');
  if (dHost) {
    try {
      const names = (await readdir(dHost))
        .filter((n) => !n.endsWith('.md5sums') && !n.startsWith('.'))
        .sort();
      for (const n of names) files.push({ rel: `/var/lib/dpkg/status.d/${n}`, statusOptional: true });
    } catch {
      // not a directory
    }
  }
  for (const f of files) {
    let buf: Buffer | null;
    try {
      buf = await readFileInRoot(ctx.rootDir, f.rel, ctx.maxFileBytes);
    } catch (e) {
      ctx.warn(`${f.rel}: ${errorMessage(e)}`);
      continue;
    }
    if (buf === null) continue;
    const recs = parseDpkgStatus(buf.toString('utf8'), {
      statusOptional: f.statusOptional,
      warn: (m) => ctx.warn(`${f.rel}: ${m}`),
    });
    for (const r of recs) out.push(dpkgPackage(r, ctx.os, f.rel));
  }
  return out;
}
