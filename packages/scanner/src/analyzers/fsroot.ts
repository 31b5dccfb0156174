/**
 * A root filesystem seen as if chrooted: every path is resolved component by component inside
 * `rootDir`, symlinks are followed with the root as "/" (absolute targets are re-rooted, `..` stops
 * at the root), so nothing outside the unpacked image is ever read.
 */

import type { Dirent } from 'node:fs';
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';

const MAX_SYMLINK_HOPS = 40;

/** Splits a root-relative path ("/var/lib/x", "var/lib/x") into clean components. */
export function splitRel(rel: string): string[] {
  return rel.split('/').filter((c) => c !== '' && c !== '.');
}

/** Normalises a root-relative path to the "/a/b" form used in `locations`. */
export function toLocation(rel: string): string {
  const parts: string[] = [];
  for (const c of splitRel(rel)) {
    if (c === '..') parts.pop();
    else parts.push(c);
  }
  return `/${parts.join('/')}`;
}

/**
 * Resolves `rel` inside `rootDir`, following symlinks the way a chroot would.
 * Returns the host path (all of whose components are real, non-symlink entries inside the root)
 * or null when some component does not exist or the symlink chain is too long.
 */
export async function resolveInRoot(rootDir: string, rel: string): Promise<string | null> {
  const pending = splitRel(rel);
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const c = pending.shift() as string;
    if (c === '..') {
      resolved.pop();
      continue;
    }
    const host = join(rootDir, ...resolved, c);
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(host);
    } catch {
      return null;
    }
    if (st.isSymbolicLink()) {
      if (++hops > MAX_SYMLINK_HOPS) return null;
      let target: string;
      try {
        target = await readlink(host);
      } catch {
        return null;
      }
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...splitRel(target));
      continue;
    }
    if (pending.length > 0 && !st.isDirectory()) return null;
    resolved.push(c);
  }
  return join(rootDir, ...resolved);
}

/** The root-relative form ("/a/b") of a host path returned by resolveInRoot. */
export function relFromHost(rootDir: string, host: string): string {
  const r = posix.relative(rootDir.split('\\').join('/'), host.split('\\').join('/'));
  return toLocation(r);
}

export class FileTooLargeError extends Error {
  constructor(
    readonly location: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(`${size} bytes exceeds the ${limit}-byte limit; skipped`);
  }
}

/**
 * Reads a regular file inside the root (symlinks resolved within the root). Returns null when the
 * path does not exist or is not a regular file; throws FileTooLargeError over `maxBytes`.
 */
export async function readFileInRoot(rootDir: string, rel: string, maxBytes: number): Promise<Buffer | null> {
  const host = await resolveInRoot(rootDir, rel);
  if (host === null) return null;
  const st = await lstat(host);
  if (!st.isFile()) return null;
  if (st.size > maxBytes) throw new FileTooLargeError(toLocation(rel), st.size, maxBytes);
  const buf = await readFile(host);
  if (buf.length > maxBytes) throw new FileTooLargeError(toLocation(rel), buf.length, maxBytes);
  return buf;
}

/** Synchronous random access to bytes (a file or an in-memory buffer). Reads past the end are short. */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Buffer;
}

export function bufferSource(buf: Uint8Array): ByteSource {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return {
    size: b.length,
    read(offset, length) {
      if (offset < 0 || offset >= b.length || length <= 0) return Buffer.alloc(0);
      return b.subarray(offset, Math.min(b.length, offset + length));
    },
  };
}

/** A file opened for positional reads; `close()` when done. O_NOFOLLOW: the path must be resolved already. */
export function openFileSource(hostPath: string): ByteSource & { close(): void } {
  const fd = openSync(hostPath, fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0));
  const size = fstatSync(fd).size;
  return {
    size,
    read(offset, length) {
      if (offset < 0 || offset >= size || length <= 0) return Buffer.alloc(0);
      const n = Math.min(length, size - offset);
      const out = Buffer.alloc(n);
      let got = 0;
      while (got < n) {
        const r = readSync(fd, out, got, n - got, offset + got);
        if (r === 0) break;
        got += r;
      }
      return got === n ? out : out.subarray(0, got);
    },
    close() {
      closeSync(fd);
    },
  };
}

export interface WalkedFile {
  /** Root-relative path, "/a/b/c". */
  rel: string;
  /** Host path (inside the root; no symlinks in it). */
  host: string;
  size: number;
  mode: number;
}

export interface WalkScope {
  /** Root-relative directory; '' is the root itself. */
  dir: string;
  /** How many directory levels below `dir` to descend; 0 = only the files directly in it. */
  depth: number;
}

export interface WalkLimits {
  maxEntries: number;
  deadline: number;
}

/** Directory names never entered during a walk (pseudo filesystems, caches, docs, kernel modules). */
const SKIP_DIRS = new Set([
  '/proc',
  '/sys',
  '/dev',
  '/run',
  '/tmp',
  '/var/tmp',
  '/var/cache',
  '/var/log',
  '/var/lib/dpkg',
  '/var/lib/apt',
  '/var/lib/rpm',
  '/usr/share/doc',
  '/usr/share/man',
  '/usr/share/info',
  '/usr/share/locale',
  '/usr/share/i18n',
  '/usr/share/zoneinfo',
  '/usr/share/icons',
  '/usr/share/fonts',
  '/usr/lib/modules',
  '/usr/lib/firmware',
  '/lib/modules',
  '/lib/firmware',
  '/usr/src/linux-headers',
]);

/**
 * Resolves scope directories inside the root (a scope may be a symlink, e.g. /bin -> usr/bin) to their
 * real root-relative paths; scopes that do not exist or are not directories are dropped.
 */
export async function resolveScopes(rootDir: string, scopes: WalkScope[]): Promise<WalkScope[]> {
  const out: WalkScope[] = [];
  for (const s of scopes) {
    const host = s.dir === '' ? rootDir : await resolveInRoot(rootDir, s.dir);
    if (host === null) continue;
    try {
      if (!(await lstat(host)).isDirectory()) continue;
    } catch {
      continue;
    }
    out.push({ dir: relFromHost(rootDir, host), depth: s.depth });
  }
  return out;
}

/**
 * Walks the union of `scopes` (already resolved with resolveScopes; symlinks inside the tree are never followed,
 * so a file is seen once under its real path). Stops quietly at the limits; `truncated` tells.
 */
export async function walkScopes(
  rootDir: string,
  scopes: WalkScope[],
  limits: WalkLimits,
  onFile: (f: WalkedFile) => void,
  /** Cheap path filter applied before a file is stat'ed. */
  want?: (rel: string) => boolean,
): Promise<{ truncated: string | null }> {
  const byReal = new Map<string, number>();
  for (const s of scopes) {
    const rel = toLocation(s.dir);
    byReal.set(rel, Math.max(byReal.get(rel) ?? -1, s.depth));
  }
  // Drop scopes fully covered by an ancestor scope with enough depth.
  const roots = [...byReal.entries()].filter(([rel, depth]) => {
    for (const [other, od] of byReal) {
      if (other === rel) continue;
      const prefix = other === '/' ? '/' : `${other}/`;
      if (rel.startsWith(prefix)) {
        const extra = splitRel(rel.slice(prefix.length)).length;
        if (od >= extra + depth) return false;
      }
    }
    return true;
  });
  let entries = 0;
  const seenFiles = new Set<string>();
  let truncated: string | null = null;
  const walkDir = async (rel: string, depthLeft: number): Promise<void> => {
    if (truncated) return;
    const host = rel === '/' ? rootDir : join(rootDir, ...splitRel(rel));
    let dirents: Dirent[];
    try {
      dirents = await readdir(host, { withFileTypes: true });
    } catch {
      return;
    }
    const subdirs: string[] = [];
    const candidates: string[] = [];
    for (const d of dirents) {
      if (++entries > limits.maxEntries) {
        truncated = `walk stopped after ${limits.maxEntries} entries`;
        break;
      }
      const childRel = rel === '/' ? `/${d.name}` : `${rel}/${d.name}`;
      if (d.isDirectory()) {
        if (depthLeft > 0 && !SKIP_DIRS.has(childRel)) subdirs.push(childRel);
      } else if (d.isFile() && !seenFiles.has(childRel) && (!want || want(childRel))) {
        seenFiles.add(childRel);
        candidates.push(d.name);
      }
      // symlinks, sockets, devices: ignored
    }
    if (Date.now() > limits.deadline) truncated ??= 'walk stopped at the time limit';
    // Stat the candidates a batch at a time (the thread pool runs them in parallel).
    for (let i = 0; i < candidates.length; i += 32) {
      const batch = candidates.slice(i, i + 32);
      const stats = await Promise.all(batch.map((n) => lstat(join(host, n)).catch(() => null)));
      batch.forEach((n, k) => {
        const st = stats[k];
        if (st?.isFile()) {
          onFile({
            rel: rel === '/' ? `/${n}` : `${rel}/${n}`,
            host: join(host, n),
            size: st.size,
            mode: st.mode,
          });
        }
      });
    }
    if (truncated) return;
    subdirs.sort();
    for (const s of subdirs) await walkDir(s, depthLeft - 1);
  };
  for (const [rel, depth] of roots.sort((a, b) => a[0].localeCompare(b[0]))) {
    await walkDir(rel, depth);
    if (truncated) break;
  }
  return { truncated };
}

/** True when root-relative `rel` lies inside scope `s` within its depth. */
export function inScope(rel: string, s: WalkScope): boolean {
  const dir = toLocation(s.dir);
  const prefix = dir === '/' ? '/' : `${dir}/`;
  if (!rel.startsWith(prefix)) return false;
  const below = splitRel(rel.slice(prefix.length)).length - 1; // directories between scope and file
  return below <= s.depth;
}
