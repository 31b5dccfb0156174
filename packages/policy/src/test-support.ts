import type { PathResolver, ResolvedFile } from './compile.js';
import type { ContainerPolicy } from './enforcement.js';

/**
 * An in-memory container filesystem for tests: the resolver compile takes is injected I/O, and this
 * is a real implementation of it over a Map (dev 8<<20|1, inodes numbered in insertion order).
 * Entries are "dir", "file" or "->/target" (a symlink, resolved like stat(2) does).
 */
export function memoryFs(tree: Record<string, 'dir' | 'file' | `->${string}`>, options = { listable: true }) {
  const dev = (8n << 20n) | 1n;
  const files = new Map<string, ResolvedFile>();
  let ino = 100n;
  for (const [path, kind] of Object.entries(tree)) {
    if (kind === 'dir' || kind === 'file') files.set(path, { dev, ino: ino++, isDir: kind === 'dir' });
  }
  const resolve = (path: string): string => {
    for (const [link, kind] of Object.entries(tree)) {
      if (!kind.startsWith('->')) continue;
      const target = kind.slice(2);
      if (path === link) return resolve(target);
      if (path.startsWith(`${link}/`)) return resolve(target + path.slice(link.length));
    }
    return path;
  };
  const resolver: PathResolver = {
    stat: (path) => {
      const found = files.get(resolve(path));
      return found ? { ...found } : undefined;
    },
  };
  if (options.listable) {
    resolver.list = (dir) => {
      const real = resolve(dir);
      const prefix = real === '/' ? '/' : `${real}/`;
      return Object.keys(tree)
        .filter(
          (p) => p.startsWith(prefix) && p.length > prefix.length && !p.slice(prefix.length).includes('/'),
        )
        .map((p) => p.slice(prefix.length));
    };
  }
  const id = (path: string) => {
    const found = files.get(resolve(path));
    if (!found) throw new Error(`no ${path} in the test filesystem`);
    return { dev: found.dev, ino: found.ino };
  };
  return { resolver, id };
}

/** A small distro-like root: merged /usr (bin and sbin are links), /etc with the usual files. */
export function distroTree(): Record<string, 'dir' | 'file' | `->${string}`> {
  return {
    '/': 'dir',
    '/etc': 'dir',
    '/etc/passwd': 'file',
    '/etc/shadow': 'file',
    '/etc/sudoers': 'file',
    '/etc/sudoers.d': 'dir',
    '/etc/hosts': 'file',
    '/usr': 'dir',
    '/usr/bin': 'dir',
    '/usr/bin/sh': 'file',
    '/usr/bin/curl': 'file',
    '/usr/bin/pip': 'file',
    '/usr/sbin': 'dir',
    '/usr/sbin/nginx': 'file',
    '/bin': '->/usr/bin',
    '/sbin': '->/usr/sbin',
    '/usr/bin/dash': '->/usr/bin/sh',
    '/app': 'dir',
    '/app/server': 'file',
  };
}

export function emptyPolicy(overrides: Partial<ContainerPolicy> = {}): ContainerPolicy {
  return {
    cgroupId: 4242n,
    rootPath: '/proc/1/root',
    modes: { process: 'protect', file: 'protect', network: 'protect' },
    execAllow: [],
    fileProtect: [],
    netAllow: [],
    ...overrides,
  };
}
