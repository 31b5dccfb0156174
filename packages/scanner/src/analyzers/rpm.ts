/**
 * rpm: the rpmdb in its sqlite form (rpmdb.sqlite, table Packages(hnum, blob)) or the legacy
 * Berkeley DB hash form (Packages). Each value is an RPM header blob (see rpmheader.ts).
 * The ndb backend (SUSE's Packages.db) is not read: it is reported as a warning.
 */
import { copyFile, lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { InstalledPackage, OsInfo } from '@palisade/protocol';
import { readBdbHash } from './bdb.js';
import { FileTooLargeError, readFileInRoot, resolveInRoot, toLocation } from './fsroot.js';
import { purl } from './purl.js';
import { parseSourceRpm, type RpmRecord, rpmEvr, rpmRecordFromHeader } from './rpmheader.js';
import { type AnalyzerContext, distroQualifier, errorMessage } from './types.js';

/** Header blobs from an rpmdb.sqlite file (read from a private copy, so the image is never touched). */
export async function readSqliteRpmdbBlobs(
  dbPath: string,
  walPath?: string,
): Promise<Array<{ hnum: number; blob: Uint8Array }>> {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-rpmdb-'));
  try {
    const copy = join(dir, 'rpmdb.sqlite');
    await copyFile(dbPath, copy);
    if (walPath) await copyFile(walPath, `${copy}-wal`);
    const db = new DatabaseSync(copy, { readOnly: true });
    try {
      const rows = db.prepare('SELECT hnum, blob FROM Packages ORDER BY hnum').all();
      return rows.map((r) => ({ hnum: Number(r.hnum), blob: r.blob as Uint8Array }));
    } finally {
      db.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Header blobs from a Berkeley DB Packages file; key 0 (rpm's instance counter) is skipped. */
export function readBdbRpmdbBlobs(file: Uint8Array): Array<{ hnum: number; blob: Uint8Array }> {
  const out: Array<{ hnum: number; blob: Uint8Array }> = [];
  const { littleEndian, entries } = readBdbHash(file);
  for (const e of entries) {
    if (e.key.length !== 4) continue;
    const hnum = littleEndian ? e.key.readUInt32LE(0) : e.key.readUInt32BE(0);
    if (hnum === 0) continue;
    out.push({ hnum, blob: e.value });
  }
  return out.sort((a, b) => a.hnum - b.hnum);
}

export function rpmPackage(rec: RpmRecord, os: OsInfo | null, location: string): InstalledPackage {
  const version = rpmEvr(rec);
  const pkg: InstalledPackage = {
    name: rec.name,
    version,
    ecosystem: 'Red Hat',
    purl: purl('rpm', os?.id || 'redhat', rec.name, `${rec.version}-${rec.release}`, {
      arch: rec.arch,
      epoch: rec.epoch !== undefined && rec.epoch !== 0 ? String(rec.epoch) : undefined,
      distro: distroQualifier(os),
    }),
    locations: [location],
  };
  if (rec.arch) pkg.arch = rec.arch;
  if (rec.license) pkg.licenses = [rec.license];
  const src = rec.sourceRpm ? parseSourceRpm(rec.sourceRpm) : null;
  if (src) {
    pkg.sourceName = src.name;
    // The source rpm file name carries no epoch; the binary's epoch is assumed for it.
    pkg.sourceVersion = rpmEvr({ epoch: rec.epoch, version: src.version, release: src.release });
  }
  return pkg;
}

/** Packages from header blobs; bad headers are counted into one warning. gpg-pubkey entries are skipped. */
export function rpmPackagesFromBlobs(
  blobs: Array<{ hnum: number; blob: Uint8Array }>,
  os: OsInfo | null,
  location: string,
  warn: (m: string) => void,
): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  const bad: string[] = [];
  for (const { hnum, blob } of blobs) {
    let rec: RpmRecord;
    try {
      rec = rpmRecordFromHeader(blob);
    } catch (e) {
      bad.push(`#${hnum}: ${errorMessage(e)}`);
      continue;
    }
    if (rec.name === 'gpg-pubkey') continue; // imported signing keys, not packages
    out.push(rpmPackage(rec, os, location));
  }
  if (bad.length > 0)
    warn(`${location}: ${bad.length} unreadable header(s) skipped (${bad.slice(0, 3).join('; ')})`);
  return out;
}

const RPMDB_DIRS = ['/usr/lib/sysimage/rpm', '/var/lib/rpm'];

export const RPM_PATHS = RPMDB_DIRS.flatMap((d) => [
  `${d}/rpmdb.sqlite`,
  `${d}/rpmdb.sqlite-wal`,
  `${d}/Packages`,
  `${d}/Packages.db`,
]);

async function isFile(host: string): Promise<boolean> {
  try {
    return (await lstat(host)).isFile();
  } catch {
    return false;
  }
}

export async function analyzeRpm(ctx: AnalyzerContext): Promise<InstalledPackage[]> {
  const out: InstalledPackage[] = [];
  const seenDirs = new Set<string>();
  for (const dir of RPMDB_DIRS) {
    const dirHost = await resolveInRoot(ctx.rootDir, dir);
    if (dirHost === null || seenDirs.has(dirHost)) continue;
    seenDirs.add(dirHost);
    const sqliteRel = `${dir}/rpmdb.sqlite`;
    const sqliteHost = await resolveInRoot(ctx.rootDir, sqliteRel);
    if (sqliteHost && (await isFile(sqliteHost))) {
      const st = await lstat(sqliteHost);
      if (st.size > ctx.maxFileBytes) {
        ctx.warn(`${sqliteRel}: ${new FileTooLargeError(sqliteRel, st.size, ctx.maxFileBytes).message}`);
        continue;
      }
      try {
        const walHost = await resolveInRoot(ctx.rootDir, `${sqliteRel}-wal`);
        const blobs = await readSqliteRpmdbBlobs(
          sqliteHost,
          walHost && (await isFile(walHost)) ? walHost : undefined,
        );
        out.push(...rpmPackagesFromBlobs(blobs, ctx.os, sqliteRel, ctx.warn));
      } catch (e) {
        ctx.warn(`${sqliteRel}: not a readable rpm sqlite database: ${errorMessage(e)}`);
      }
      continue;
    }
    const bdbRel = `${dir}/Packages`;
    let bdb: Buffer | null = null;
    try {
      bdb = await readFileInRoot(ctx.rootDir, bdbRel, ctx.maxFileBytes);
    } catch (e) {
      ctx.warn(`${bdbRel}: ${errorMessage(e)}`);
      continue;
    }
    if (bdb !== null) {
      try {
        out.push(...rpmPackagesFromBlobs(readBdbRpmdbBlobs(bdb), ctx.os, bdbRel, ctx.warn));
      } catch (e) {
        ctx.warn(`${bdbRel}: not a readable Berkeley DB rpmdb: ${errorMessage(e)}`);
      }
      continue;
    }
    const ndbHost = await resolveInRoot(ctx.rootDir, `${dir}/Packages.db`);
    if (ndbHost && (await isFile(ndbHost))) {
      ctx.warn(
        `${toLocation(`${dir}/Packages.db`)}: rpm ndb databases are not supported; packages not listed`,
      );
    }
  }
  return out;
}
