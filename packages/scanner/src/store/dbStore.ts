import { lstat, mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Ed25519PublicJwk } from '@palisade/auth';
import { type BundleManifest, verifyBundle } from '@palisade/bundle';

/**
 * Where a scanner keeps its vulnerability DB: signed bundle files `vulndb-<sequence>.bundle`, a
 * `current` symlink to the one in use and a `previous` symlink to the one before it (for rollback).
 * Swaps are atomic (a new symlink renamed over the old), so a scanner never reads half a DB.
 */
export class VulnDbStore {
  constructor(
    readonly dir: string,
    private readonly trustedKeys: Ed25519PublicJwk[],
  ) {}

  private link(name: 'current' | 'previous'): string {
    return join(this.dir, name);
  }

  private async target(name: 'current' | 'previous'): Promise<string | null> {
    try {
      return await readlink(this.link(name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  private async pointAt(name: 'current' | 'previous', file: string): Promise<void> {
    const tmp = `${this.link(name)}.tmp-${process.pid}`;
    await rm(tmp, { force: true });
    await symlink(file, tmp);
    await rename(tmp, this.link(name));
  }

  /** Verifies and loads the DB in use: signature first, then content. Null when none is installed. */
  async load(): Promise<{ manifest: BundleManifest; content: Buffer; file: string } | null> {
    const file = await this.target('current');
    if (!file) return null;
    const bundle = await verifyBundle(await readFile(join(this.dir, file)), {
      trustedKeys: this.trustedKeys,
      expectKind: 'vulndb',
    });
    return { ...bundle, file };
  }

  /**
   * Installs a bundle: it must verify with a trusted key and be newer than the installed one
   * (no rollback by replay). The previous DB is kept for `rollback()`. Nothing changes on refusal.
   */
  async install(bundleFile: Uint8Array): Promise<BundleManifest> {
    await mkdir(this.dir, { recursive: true, mode: 0o755 });
    const installed = await this.load().catch(() => null);
    const { manifest } = await verifyBundle(bundleFile, {
      trustedKeys: this.trustedKeys,
      expectKind: 'vulndb',
      ...(installed ? { afterSequence: installed.manifest.sequence } : {}),
    });
    const name = `vulndb-${manifest.sequence}.bundle`;
    const tmp = join(this.dir, `.${name}.tmp-${process.pid}`);
    await writeFile(tmp, bundleFile, { mode: 0o644 });
    await rename(tmp, join(this.dir, name));
    if (installed) await this.pointAt('previous', installed.file);
    await this.pointAt('current', name);
    await this.prune();
    return manifest;
  }

  /** Switches back to the previous DB (it is verified again before use). */
  async rollback(): Promise<BundleManifest> {
    const previous = await this.target('previous');
    if (!previous) throw new Error(`no previous vulnerability DB to roll back to in ${this.dir}`);
    const current = await this.target('current');
    const { manifest } = await verifyBundle(await readFile(join(this.dir, previous)), {
      trustedKeys: this.trustedKeys,
      expectKind: 'vulndb',
    });
    await this.pointAt('current', previous);
    if (current) await this.pointAt('previous', current);
    return manifest;
  }

  /** Keeps only the files `current` and `previous` point at. */
  private async prune(): Promise<void> {
    const keep = new Set([await this.target('current'), await this.target('previous')]);
    for (const entry of await readdir(this.dir)) {
      if (/^vulndb-\d+\.bundle$/.test(entry) && !keep.has(entry))
        await rm(join(this.dir, entry), { force: true });
    }
  }

  /** What is installed and how old it is; `stale` when it was built more than `maxAgeDays` ago. */
  async status(now = new Date(), maxAgeDays = 7) {
    const loaded = await this.load();
    if (!loaded) return { installed: false as const, dir: this.dir };
    const builtAt = String(loaded.manifest.meta.builtAt ?? loaded.manifest.createdAt);
    const ageDays = (now.getTime() - Date.parse(builtAt)) / 86_400_000;
    const previous = await this.target('previous');
    return {
      installed: true as const,
      dir: this.dir,
      file: basename(loaded.file),
      sequence: loaded.manifest.sequence,
      issuer: loaded.manifest.issuer,
      builtAt,
      ageDays: Math.round(ageDays * 10) / 10,
      stale: ageDays > maxAgeDays,
      previous: previous ?? null,
      meta: loaded.manifest.meta,
    };
  }
}

/** True when `path` exists (as anything, including a dangling symlink). */
export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
