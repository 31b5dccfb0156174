// Facts about the guest read straight from the kernel, shared by guest-test.mjs and guest-bench.mjs
// (independent of the addon's own helpers, so the tests cross-check them).
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';

/** The host's bpftool, carried in the share, run through the copied loader and libraries. */
export const BPFTOOL = '/host/bin/bpftool';

/** Where cgroup v2 is mounted. */
export function cgroup2Root() {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (post?.split(' ')[0] === 'cgroup2') return pre.split(' ')[4];
  }
  throw new Error('no cgroup2 mount in /proc/self/mountinfo');
}

/** stat's dev (glibc encoding) to the kernel's s_dev encoding (major << 20 | minor). */
export function kernelDevOf(dev) {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return (major << 20n) | minor;
}

/** A file's identity as the kernel's hooks see it. */
export function fileId(path) {
  const st = statSync(path, { bigint: true });
  return { dev: kernelDevOf(st.dev), ino: st.ino };
}

export function bpftool(...args) {
  const loader = process.env.PALISADE_VM_LOADER;
  const r = spawnSync(loader, ['--library-path', process.env.PALISADE_VM_LIBS, BPFTOOL, ...args], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`bpftool ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}
