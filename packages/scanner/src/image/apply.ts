/**
 * Applies image layers (tar change sets, OCI image-spec "layer" semantics) to a root directory.
 *
 * Safety rules — the tar content is hostile until proven otherwise:
 * - Entry names are relative to the root: a leading `/` or `./` is dropped; any `..` component is
 *   refused. Hardlink targets follow the same rule.
 * - Directories on the way to an entry are resolved one component at a time with lstat. A symlink met
 *   there is resolved *inside the root* (an absolute target restarts at the root, `..` stops at the
 *   root), the way a container sees it, so writes through symlinks never leave the root. The entry's
 *   own last component is never followed: whatever is there is removed first, and files are opened
 *   with O_CREAT|O_EXCL|O_NOFOLLOW.
 * - Symlinks are stored verbatim (they are data); hardlinks may only point at non-directories that
 *   exist inside the root; devices and FIFOs are never created (counted in stats).
 * - setuid / setgid bits are dropped; directories always get owner rwx so unpacking and cleanup work
 *   without root. Ownership and timestamps are not applied.
 *
 * File system calls are synchronous on purpose: one entry needs 4-6 of them, and sending each through
 * the libuv thread pool made small-file layers about twice as slow. The event loop still turns between
 * entries and between content chunks.
 */
import fs, { constants } from 'node:fs';
import { join } from 'node:path';
import type { TarEntry } from './tar.js';
import { ImageError, type UnpackStats } from './types.js';

const MAX_SYMLINK_FOLLOWS = 40;
const WHITEOUT_PREFIX = '.wh.';
const OPAQUE = '.wh..wh..opq';

export function emptyStats(): UnpackStats {
  return {
    layers: 0,
    files: 0,
    directories: 0,
    symlinks: 0,
    hardlinks: 0,
    whiteouts: 0,
    opaqueDirs: 0,
    skippedDevices: 0,
    skippedOther: 0,
    skippedUnselected: 0,
    uncompressedBytes: 0,
  };
}

/** Splits an archive path into safe components; refuses `..` and NUL. `[]` is the root itself. */
export function safeComponents(name: string, what = 'entry'): string[] {
  if (name.includes('\0')) throw new ImageError('unsafe-path', `${what} "${name}" contains a NUL byte`);
  const parts = name.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) {
    throw new ImageError(
      'unsafe-path',
      `refusing ${what} "${name}": ".." path components are not allowed (path traversal)`,
    );
  }
  return parts;
}

function lstatOrNull(path: string): fs.Stats | null {
  return fs.lstatSync(path, { throwIfNoEntry: false }) ?? null;
}

function key(rel: readonly string[]): string {
  return rel.join('/');
}

export class LayerApplier {
  /** Resolved parent directories (entry path → real components), valid until something is removed. */
  private dirCache = new Map<string, string[]>();
  /** Paths (real, relative) written by the layer being applied, and their ancestors. */
  private written = new Set<string>();
  private ancestors = new Set<string>();

  /** @param root an existing, empty directory given by its real path (no symlink in it). */
  constructor(
    readonly root: string,
    readonly stats: UnpackStats = emptyStats(),
    private readonly select?: (path: string, entry: { mode: number; size: number }) => boolean,
  ) {}

  private unselected(comps: readonly string[], entry: { mode: number; size: number }): boolean {
    return this.select !== undefined && !this.select(comps.join('/'), entry);
  }

  /** A file this scan does not want still replaces whatever a lower layer had at its path. */
  private skipUnselected(parent: readonly string[], base: string): void {
    const dir = this.resolveDir(parent, false);
    if (dir) this.remove([...dir, base]);
    this.stats.skippedUnselected++;
  }

  private abs(rel: readonly string[]): string {
    return rel.length === 0 ? this.root : join(this.root, ...rel);
  }

  /**
   * Resolves directory components inside the root, following symlinks within the root only.
   * Missing directories are created when `create`, otherwise null is returned.
   */
  resolveDir(components: readonly string[], create: boolean): string[] | null {
    const cacheKey = key(components);
    const cached = this.dirCache.get(cacheKey);
    if (cached) return cached;
    const stack: string[] = [];
    const queue = [...components];
    let follows = 0;
    while (queue.length > 0) {
      const c = queue.shift() as string;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        stack.pop(); // only from symlink targets; never above the root
        continue;
      }
      const path = this.abs([...stack, c]);
      const st = lstatOrNull(path);
      if (!st) {
        if (!create) return null;
        fs.mkdirSync(path, { mode: 0o755 });
        stack.push(c);
        continue;
      }
      if (st.isSymbolicLink()) {
        if (++follows > MAX_SYMLINK_FOLLOWS) {
          throw new ImageError(
            'unsafe-path',
            `too many levels of symbolic links resolving "${components.join('/')}"`,
          );
        }
        const target = fs.readlinkSync(path);
        if (target.startsWith('/')) stack.length = 0;
        queue.unshift(...target.split('/'));
        continue;
      }
      if (!st.isDirectory()) {
        throw new ImageError(
          'unsafe-path',
          `"${[...stack, c].join('/')}" is not a directory (in "${components.join('/')}")`,
        );
      }
      stack.push(c);
    }
    this.dirCache.set(cacheKey, stack);
    return stack;
  }

  /** Removes whatever is at `rel` (recursively for a directory; a symlink itself, never its target). */
  private remove(rel: readonly string[]): void {
    const path = this.abs(rel);
    const st = lstatOrNull(path);
    if (!st) return;
    if (st.isDirectory()) {
      fs.rmSync(path, { recursive: true, force: true });
      this.dirCache.clear();
    } else {
      fs.unlinkSync(path);
      if (st.isSymbolicLink()) this.dirCache.clear();
    }
  }

  private markWritten(rel: readonly string[]): void {
    this.written.add(key(rel));
    for (let i = rel.length - 1; i >= 0; i--) {
      const k = key(rel.slice(0, i));
      if (this.ancestors.has(k)) break;
      this.ancestors.add(k);
    }
  }

  private touchedThisLayer(k: string): boolean {
    return this.written.has(k) || this.ancestors.has(k);
  }

  /** Removes lower-layer content under a directory, keeping what this layer wrote. */
  private clearLower(rel: readonly string[]): void {
    const names = fs.readdirSync(this.abs(rel));
    for (const name of names) {
      const child = [...rel, name];
      if (this.touchedThisLayer(key(child))) {
        const st = lstatOrNull(this.abs(child));
        if (st?.isDirectory()) this.clearLower(child);
      } else {
        this.remove(child);
      }
    }
  }

  /** Applies one layer; `entries` is the layer's tar stream. */
  async apply(entries: AsyncIterable<TarEntry>, label: string, signal?: AbortSignal): Promise<void> {
    this.written = new Set();
    this.ancestors = new Set();
    this.stats.layers++;
    for await (const entry of entries) {
      if (signal?.aborted) throw new ImageError('aborted', 'unpack aborted', { cause: signal.reason });
      try {
        await this.entry(entry);
      } catch (err) {
        if (err instanceof ImageError)
          throw new ImageError(err.code, `${label}: ${err.message}`, { cause: err });
        throw new ImageError(
          'malformed-tar',
          `${label}: cannot extract "${entry.name}": ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
  }

  private async entry(entry: TarEntry): Promise<void> {
    const comps = safeComponents(entry.name);
    const base = comps[comps.length - 1];
    if (base === undefined) {
      // The root itself ("./"): nothing to create; a non-directory cannot replace the root.
      if (entry.type !== 'directory')
        throw new ImageError('unsafe-path', `a ${entry.type} entry cannot replace the root`);
      return;
    }
    const parent = comps.slice(0, -1);
    if (base.startsWith(WHITEOUT_PREFIX)) return this.whiteout(parent, base);

    switch (entry.type) {
      case 'directory': {
        if (this.select !== undefined) {
          // Selective unpacking creates directories only when something wanted is written below them
          // (resolveDir), which saves most of the filesystem work; a directory still replaces a
          // lower layer's file or symlink at its path.
          const dir = this.resolveDir(parent, false);
          if (dir) {
            const rel = [...dir, base];
            const st = lstatOrNull(this.abs(rel));
            if (st && !st.isDirectory()) this.remove(rel);
            if (st?.isDirectory()) this.markWritten(rel);
          }
          this.stats.directories++;
          return;
        }
        const dir = this.resolveDir(parent, true);
        const rel = [...(dir as string[]), base];
        const path = this.abs(rel);
        const st = lstatOrNull(path);
        if (!st?.isDirectory()) {
          if (st) this.remove(rel);
          fs.mkdirSync(path);
        }
        fs.chmodSync(path, (entry.mode & 0o1777) | 0o700);
        this.markWritten(rel);
        this.stats.directories++;
        return;
      }
      case 'file': {
        if (this.unselected(comps, entry)) return this.skipUnselected(parent, base);
        const dir = this.resolveDir(parent, true);
        const rel = [...(dir as string[]), base];
        this.remove(rel);
        const path = this.abs(rel);
        const mode = entry.mode & 0o777;
        const fd = fs.openSync(
          path,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          0o600,
        );
        try {
          for await (const chunk of entry.body()) {
            let off = 0;
            while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
          }
          fs.fchmodSync(fd, mode);
        } finally {
          fs.closeSync(fd);
        }
        this.markWritten(rel);
        this.stats.files++;
        return;
      }
      case 'symlink': {
        if (entry.linkname === '')
          throw new ImageError('malformed-tar', `symlink "${entry.name}" has an empty target`);
        // Selective unpacking keeps the symlinks analyzers may read or resolve through: wanted paths
        // (e.g. /etc/os-release) and short ones (merged-/usr links such as /lib -> usr/lib).
        if (
          this.select !== undefined &&
          comps.length > 3 &&
          !this.select(comps.join('/'), { mode: 0o777, size: 0 })
        ) {
          return this.skipUnselected(parent, base);
        }
        const dir = this.resolveDir(parent, true);
        const rel = [...(dir as string[]), base];
        this.remove(rel);
        fs.symlinkSync(entry.linkname, this.abs(rel));
        this.markWritten(rel);
        this.stats.symlinks++;
        return;
      }
      case 'hardlink': {
        const targetComps = safeComponents(entry.linkname, `hardlink target of "${entry.name}"`);
        const targetBase = targetComps[targetComps.length - 1];
        const targetDir = targetBase === undefined ? null : this.resolveDir(targetComps.slice(0, -1), false);
        const targetRel = targetDir && targetBase !== undefined ? [...targetDir, targetBase] : null;
        const targetSt = targetRel ? lstatOrNull(this.abs(targetRel)) : null;
        // Selective unpacking: a link to a file that was not written is skipped like that file.
        if (this.select !== undefined && !targetSt) {
          return this.skipUnselected(parent, base);
        }
        if (!targetRel || !targetSt) {
          throw new ImageError(
            'unsafe-path',
            `hardlink "${entry.name}" points at "${entry.linkname}", which does not exist in the image`,
          );
        }
        if (targetSt.isDirectory()) {
          throw new ImageError(
            'unsafe-path',
            `hardlink "${entry.name}" points at a directory ("${entry.linkname}")`,
          );
        }
        const dir = this.resolveDir(parent, true);
        const rel = [...(dir as string[]), base];
        if (key(rel) === key(targetRel)) return; // a link to itself: nothing to do
        this.remove(rel);
        // link(2) does not follow a symlink given as the target: a link to a symlink is a symlink.
        fs.linkSync(this.abs(targetRel), this.abs(rel));
        this.markWritten(rel);
        this.stats.hardlinks++;
        return;
      }
      case 'char-device':
      case 'block-device':
      case 'fifo': {
        // Never created; whatever a lower layer had at that path is replaced (by nothing).
        const dir = this.resolveDir(parent, false);
        if (dir) this.remove([...dir, base]);
        this.stats.skippedDevices++;
        return;
      }
      default:
        this.stats.skippedOther++;
        return;
    }
  }

  private whiteout(parent: string[], base: string): void {
    if (base === OPAQUE) {
      this.stats.opaqueDirs++;
      const dir = this.resolveDir(parent, false);
      if (dir) this.clearLower(dir);
      return;
    }
    if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return; // other AUFS meta files: ignored
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..') {
      throw new ImageError('unsafe-path', `invalid whiteout "${[...parent, base].join('/')}"`);
    }
    this.stats.whiteouts++;
    const dir = this.resolveDir(parent, false);
    if (!dir) return;
    const rel = [...dir, name];
    if (this.touchedThisLayer(key(rel))) {
      // A whiteout hides lower layers only; keep what this layer itself put there.
      const st = lstatOrNull(this.abs(rel));
      if (st?.isDirectory()) this.clearLower(rel);
      return;
    }
    this.remove(rel);
  }
}
