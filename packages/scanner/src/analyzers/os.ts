/** OS detection from os-release and the older per-distribution release files. */
import type { OsInfo } from '@palisade/protocol';
import { readFileInRoot } from './fsroot.js';

const MAX_RELEASE_FILE = 64 * 1024;

/** Parses os-release(5): KEY=value lines, values optionally quoted with shell-style escapes. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = (m[2] as string).trim();
    const q = v[0];
    if ((q === '"' || q === "'") && v.length >= 2 && v.endsWith(q)) {
      v = v.slice(1, -1);
      if (q === '"') v = v.replace(/\\(["\\$`])/g, '$1');
    }
    out[m[1] as string] = v;
  }
  return out;
}

const REDHAT_IDS = new Set(['rhel', 'centos', 'rocky', 'almalinux', 'fedora', 'amzn', 'ol']);

export function osFamily(id: string, idLike: string[] = []): OsInfo['family'] {
  const ids = [id.toLowerCase(), ...idLike.map((s) => s.toLowerCase())];
  const first = ids[0] as string;
  if (first === 'debian' || first === 'ubuntu') return 'debian';
  if (first === 'alpine') return 'alpine';
  if (REDHAT_IDS.has(first)) return 'redhat';
  // Derivatives: decide by ID_LIKE.
  for (const like of ids.slice(1)) {
    if (like === 'debian' || like === 'ubuntu') return 'debian';
    if (like === 'alpine') return 'alpine';
    if (like === 'rhel' || like === 'fedora' || like === 'centos') return 'redhat';
  }
  return 'unknown';
}

/** OsInfo from parsed os-release fields. */
export function osInfoFromOsRelease(f: Record<string, string>): OsInfo | null {
  const id = (f.ID ?? '').toLowerCase();
  if (!id) return null;
  const info: OsInfo = {
    id,
    versionId: f.VERSION_ID ?? '',
    name: f.NAME ?? f.PRETTY_NAME ?? id,
    family: osFamily(id, (f.ID_LIKE ?? '').split(/\s+/).filter(Boolean)),
  };
  let codename = f.VERSION_CODENAME || f.UBUNTU_CODENAME;
  if (!codename && f.VERSION) {
    // Debian 8/9 have no VERSION_CODENAME: VERSION="8 (jessie)".
    const m = /\(([a-z]+)\)/.exec(f.VERSION);
    if (m) codename = m[1];
  }
  if (codename) info.codename = codename;
  return info;
}

/** "CentOS Linux release 7.9.2009 (Core)" and friends. */
export function parseRedhatRelease(text: string): OsInfo | null {
  const line = text.split(/\r?\n/)[0]?.trim() ?? '';
  const m = /^(.*?)\s+release\s+([0-9][0-9.]*)/i.exec(line);
  if (!m) return null;
  const name = (m[1] as string).trim();
  let version = m[2] as string;
  const lower = name.toLowerCase();
  let id: string;
  if (lower.startsWith('centos')) {
    id = 'centos';
    version = version.split('.')[0] as string; // os-release gives "7", not "7.9.2009"
  } else if (lower.startsWith('red hat')) id = 'rhel';
  else if (lower.startsWith('rocky')) id = 'rocky';
  else if (lower.startsWith('almalinux')) id = 'almalinux';
  else if (lower.startsWith('fedora')) id = 'fedora';
  else if (lower.startsWith('amazon')) id = 'amzn';
  else if (lower.startsWith('oracle')) id = 'ol';
  else return null;
  const info: OsInfo = { id, versionId: version, name, family: 'redhat' };
  const cm = /\(([^)]+)\)/.exec(line);
  if (cm) info.codename = cm[1] as string;
  return info;
}

/** Debian's /etc/debian_version: "12.4" → versionId "12"; "trixie/sid" is kept as it is. */
export function parseDebianVersion(text: string): OsInfo | null {
  const v = text.trim().split(/\r?\n/)[0]?.trim() ?? '';
  if (!v) return null;
  const versionId = /^\d+(\.\d+)*$/.test(v) ? (v.split('.')[0] as string) : v;
  return { id: 'debian', versionId, name: 'Debian GNU/Linux', family: 'debian' };
}

async function readText(rootDir: string, rel: string): Promise<string | null> {
  try {
    const b = await readFileInRoot(rootDir, rel, MAX_RELEASE_FILE);
    return b === null ? null : b.toString('utf8');
  } catch {
    return null;
  }
}

export async function detectOs(rootDir: string): Promise<OsInfo | null> {
  for (const rel of ['etc/os-release', 'usr/lib/os-release']) {
    const t = await readText(rootDir, rel);
    if (t === null) continue;
    const info = osInfoFromOsRelease(parseOsRelease(t));
    if (!info) continue;
    if (!info.versionId) {
      // Debian testing/sid has no VERSION_ID; Alpine edge still has one. Fall back to the release files.
      const dv = info.id === 'debian' ? await readText(rootDir, 'etc/debian_version') : null;
      const av = info.id === 'alpine' ? await readText(rootDir, 'etc/alpine-release') : null;
      const v = (dv ?? av)?.trim().split(/\r?\n/)[0]?.trim();
      if (v) info.versionId = v;
    }
    return info;
  }
  const alpine = await readText(rootDir, 'etc/alpine-release');
  if (alpine?.trim()) {
    return {
      id: 'alpine',
      versionId: alpine.trim().split(/\r?\n/)[0] as string,
      name: 'Alpine Linux',
      family: 'alpine',
    };
  }
  const deb = await readText(rootDir, 'etc/debian_version');
  if (deb !== null) {
    const info = parseDebianVersion(deb);
    if (info) return info;
  }
  for (const rel of ['etc/redhat-release', 'etc/centos-release', 'etc/system-release']) {
    const t = await readText(rootDir, rel);
    if (t === null) continue;
    const info = parseRedhatRelease(t);
    if (info) return info;
  }
  return null;
}

export const OS_PATHS = [
  '/etc/os-release',
  '/usr/lib/os-release',
  '/etc/alpine-release',
  '/etc/debian_version',
  '/etc/redhat-release',
  '/etc/centos-release',
  '/etc/system-release',
];
