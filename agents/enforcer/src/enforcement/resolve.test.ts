import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { containerResolver, resolveInRoot } from './resolve.js';

const root = mkdtempSync(join(tmpdir(), 'palisade-root-'));
mkdirSync(join(root, 'bin'));
mkdirSync(join(root, 'usr/bin'), { recursive: true });
writeFileSync(join(root, 'bin/busybox'), 'x');
// Absolute links must resolve inside the container root, not on the host.
symlinkSync('/bin/busybox', join(root, 'bin/sh'));
symlinkSync('../../bin/busybox', join(root, 'usr/bin/env'));
symlinkSync('/etc/passwd', join(root, 'bin/host-passwd'));
symlinkSync('loop-b', join(root, 'loop-a'));
symlinkSync('loop-a', join(root, 'loop-b'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('resolveInRoot', () => {
  it('resolves absolute and relative symlinks against the container root', () => {
    expect(resolveInRoot(root, '/bin/sh')).toBe(join(root, 'bin/busybox'));
    expect(resolveInRoot(root, '/usr/bin/env')).toBe(join(root, 'bin/busybox'));
    expect(resolveInRoot(root, '/../../bin/busybox')).toBe(join(root, 'bin/busybox'));
  });

  it('never escapes to the host and gives up on loops', () => {
    // /etc/passwd exists on the host but not in this root.
    expect(resolveInRoot(root, '/bin/host-passwd')).toBeUndefined();
    expect(resolveInRoot(root, '/loop-a')).toBeUndefined();
    expect(resolveInRoot(root, '/missing')).toBeUndefined();
  });

  it('stats the resolved file (links share the target inode) and lists directories', () => {
    const r = containerResolver(root);
    const sh = r.stat('/bin/sh');
    const busybox = r.stat('/bin/busybox');
    expect(sh?.ino).toBe(busybox?.ino);
    expect(sh?.isDir).toBe(false);
    expect(r.stat('/usr/bin')?.isDir).toBe(true);
    expect(r.list?.('/bin').sort()).toEqual(['busybox', 'host-passwd', 'sh']);
  });
});
