/** apk: lib/apk/db/installed ("X:value" lines, records separated by blank lines). */
import type { InstalledPackage } from '@palisade/protocol';
import { readFileInRoot, resolveInRoot } from './fsroot.js';
import { purl } from './purl.js';
import { type AnalyzerContext, errorMessage } from './types.js';

export interface ApkRecord {
  name: string;
  version: string;
  arch?: string;
  origin?: string;
  license?: string;
}

export function parseApkInstalled(text: string, warn?: (msg: string) => void): ApkRecord[] {
  const out: ApkRecord[] = [];
  let cur: Partial<ApkRecord> = {};
  let fields = 0;
  let badLines = 0;
  const flush = () => {
    if (fields > 0) {
      if (cur.name && cur.version) out.push(cur as ApkRecord);
      else warn?.(`record without ${cur.name ? 'V:' : 'P:'} skipped${cur.name ? ` (${cur.name})` : ''}`);
    }
    cur = {};
    fields = 0;
  };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '') {
      flush();
      continue;
    }
    if (line.length < 2 || line[1] !== ':') {
      badLines++;
      continue;
    }
    const value = line.slice(2);
    switch (line[0]) {
      case 'P':
        cur.name = value;
        break;
      case 'V':
        cur.version = value;
        break;
      case 'A':
        cur.arch = value;
        break;
      case 'o':
        cur.origin = value;
        break;
      case 'L':
        cur.license = value;
        break;
      default:
        break;
    }
    if ('PVAoL'.includes(line[0] as string)) fields++;
  }
  flush();
  if (badLines > 0) warn?.(`${badLines} malformed line(s) ignored`);
  return out;
}

export function apkPackage(rec: ApkRecord, location: string): InstalledPackage {
  const pkg: InstalledPackage = {
    name: rec.name,
    version: rec.version,
    ecosystem: 'Alpine',
    sourceName: rec.origin || rec.name,
    sourceVersion: rec.version,
    purl: purl('apk', 'alpine', rec.name, rec.version, { arch: rec.arch }),
    locations: [location],
  };
  if (rec.arch) pkg.arch = rec.arch;
  if (rec.license) pkg.licenses = [rec.license];
  return pkg;
}

/** apk-tools 3 keeps the database under /usr/lib/apk with /lib/apk possibly a symlink to it. */
export const APK_PATHS = ['/lib/apk/db/installed', '/usr/lib/apk/db/installed'];

export async function analyzeApk(ctx: AnalyzerContext): Promise<InstalledPackage[]> {
  const out: InstalledPackage[] = [];
  const seen = new Set<string>();
  for (const rel of APK_PATHS) {
    // The two paths are often the same file (symlinked directory): read it once.
    const host = await resolveInRoot(ctx.rootDir, rel);
    if (host === null || seen.has(host)) continue;
    seen.add(host);
    let buf: Buffer | null;
    try {
      buf = await readFileInRoot(ctx.rootDir, rel, ctx.maxFileBytes);
    } catch (e) {
      ctx.warn(`${rel}: ${errorMessage(e)}`);
      continue;
    }
    if (buf === null) continue;
    for (const r of parseApkInstalled(buf.toString('utf8'), (m) => ctx.warn(`${rel}: ${m}`))) {
      out.push(apkPackage(r, rel));
    }
  }
  return out;
}
