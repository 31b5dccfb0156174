import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { cgroupIdOf, kernelDev } from '@palisade/native';
import type { PathResolver, ResolvedFile } from '@palisade/policy';

const MAX_SYMLINKS = 40;

/**
 * Resolves a path inside a container as the container's own processes would: absolute symlinks are
 * resolved against the container's root (`rootPath`, e.g. /proc/<pid>/root), never the host's.
 * Returns the host path of the final object, or undefined when it does not exist.
 */
export function resolveInRoot(rootPath: string, pathInside: string): string | undefined {
  const pending = pathInside.split('/').filter((p) => p !== '' && p !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '..') {
      resolved.pop(); // never above the container's root
      continue;
    }
    const host = posix.join(rootPath, ...resolved, part);
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(host);
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) return undefined;
      const target = readlinkSync(host);
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    resolved.push(part);
  }
  return posix.join(rootPath, ...resolved);
}

/** The PathResolver @palisade/policy compiles with, reading the container's filesystem through /proc. */
export function containerResolver(rootPath: string): PathResolver {
  return {
    stat(pathInside: string): ResolvedFile | undefined {
      const host = resolveInRoot(rootPath, pathInside);
      if (!host) return undefined;
      try {
        const st = statSync(host, { bigint: true });
        return { dev: kernelDev(st.dev), ino: st.ino, isDir: st.isDirectory() };
      } catch {
        return undefined;
      }
    },
    list(dirInside: string): string[] {
      const host = resolveInRoot(rootPath, dirInside);
      if (!host) return [];
      try {
        return readdirSync(host);
      } catch {
        return [];
      }
    },
  };
}

/**
 * The cgroup v2 directory inode of a process (the key every back-end uses), from the `0::` line of
 * /proc/<pid>/cgroup. Undefined when the process is gone or not in a v2 cgroup.
 */
export function cgroupIdOfPid(pid: number, cgroupRoot: string, procRoot = '/proc'): bigint | undefined {
  try {
    const line = readFileSync(`${procRoot}/${pid}/cgroup`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    if (!line) return undefined;
    return cgroupIdOf(posix.join(cgroupRoot, line.slice(3)));
  } catch {
    return undefined;
  }
}

/** Kernel dev of the filesystem at a path (the container's root filesystem). */
export function rootDevOf(rootPath: string): bigint | undefined {
  try {
    return kernelDev(statSync(rootPath, { bigint: true }).dev);
  } catch {
    return undefined;
  }
}
