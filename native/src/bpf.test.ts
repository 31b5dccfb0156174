import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cgroupV2Root, kernelDev } from './bpf.js';
import { decodeEvents, type EventLayout, formatAddr } from './bpf-events.js';

describe('kernelDev', () => {
  it('turns glibc dev_t into major<<20|minor', () => {
    expect(kernelDev(0xfe00n)).toBe(254n << 20n); // makedev(254, 0)
    expect(kernelDev(0x10301n)).toBe((259n << 20n) | 1n); // makedev(259, 1)
    // makedev(8, 300): the minor's high bits live above bit 12 in dev_t.
    expect(kernelDev(0x800n | 44n | (256n << 12n))).toBe((8n << 20n) | 300n);
  });

  it('agrees with the major:minor the kernel prints in mountinfo', () => {
    const line = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[4] === '/');
    const [major, minor] = (line?.split(' ')[2] ?? '').split(':').map((x) => BigInt(x));
    expect(major).toBeDefined();
    expect(kernelDev(statSync('/', { bigint: true }).dev)).toBe(((major ?? 0n) << 20n) | (minor ?? 0n));
  });
});

describe('cgroupV2Root', () => {
  it('finds the cgroup2 mount, hybrid or unified', () => {
    const hybrid = [
      '25 1 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755',
      '26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev - cgroup2 cgroup2 rw',
      '27 25 0:24 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
    ].join('\n');
    expect(cgroupV2Root(hybrid)).toBe('/sys/fs/cgroup/unified');
    expect(
      cgroupV2Root('30 1 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate'),
    ).toBe('/sys/fs/cgroup');
    expect(cgroupV2Root('30 1 0:26 / /mnt/with\\040space rw - cgroup2 none rw')).toBe('/mnt/with space');
    expect(() => cgroupV2Root('27 25 0:24 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory')).toThrow(
      /no cgroup2/,
    );
  });
});

describe('formatAddr', () => {
  it('formats v4 and compresses the longest v6 zero run', () => {
    expect(formatAddr(Uint8Array.from([127, 0, 0, 1]), 4)).toBe('127.0.0.1');
    const v6 = (s: number[]) => Uint8Array.from(s.flatMap((g) => [g >> 8, g & 0xff]));
    expect(formatAddr(v6([0, 0, 0, 0, 0, 0, 0, 1]), 6)).toBe('::1');
    expect(formatAddr(v6([0x2001, 0xdb8, 0, 0, 1, 0, 0, 0]), 6)).toBe('2001:db8:0:0:1::');
    expect(formatAddr(v6([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]), 6)).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatAddr(v6([0, 0, 0, 0, 0, 0, 0, 0]), 6)).toBe('::');
  });
});

describe('decodeEvents', () => {
  // Same offsets as struct pal_event (bpf/palisade.h) on x86-64/arm64.
  const layout: EventLayout = {
    size: 208,
    timeNs: 0,
    cgroupId: 8,
    ino: 16,
    dev: 24,
    pid: 28,
    flags: 32,
    kind: 36,
    action: 37,
    mechanism: 38,
    family: 39,
    proto: 40,
    dport: 42,
    daddr: 44,
    comm: 60,
    commLen: 16,
    path: 76,
    pathLen: 128,
  };

  it('decodes network and process records', () => {
    const buf = Buffer.alloc(2 * layout.size);
    buf.writeBigUInt64LE(123n, 0);
    buf.writeBigUInt64LE(4242n, 8);
    buf.writeUInt32LE(77, 28);
    buf[36] = 2; // network
    buf[37] = 2; // deny
    buf[38] = 2; // cgroup-connect
    buf[39] = 4;
    buf[40] = 6;
    buf.writeUInt16LE(8080, 42);
    buf.set([10, 1, 2, 3], 44);
    buf.write('curl', 60);
    const p = layout.size;
    buf.writeBigUInt64LE(5n, p + 0);
    buf.writeBigUInt64LE(99n, p + 16);
    buf.writeUInt32LE((8 << 20) | 1, p + 24);
    buf[p + 36] = 0; // process
    buf[p + 37] = 1; // alert
    buf[p + 38] = 1; // tp_btf-kill
    buf.write('x'.repeat(16), p + 60); // comm fills its field: no NUL inside
    buf.write('/opt/tool', p + 76);
    const [net, proc] = decodeEvents(buf, layout);
    expect(net).toEqual({
      kind: 'network',
      action: 'deny',
      mechanism: 'cgroup-connect',
      cgroupId: 4242n,
      pid: 77,
      comm: 'curl',
      timeNs: 123n,
      family: 4,
      daddr: '10.1.2.3',
      dport: 8080,
      protocol: 'tcp',
    });
    expect(proc).toMatchObject({
      kind: 'process',
      action: 'alert',
      mechanism: 'tp_btf-kill',
      comm: 'x'.repeat(16),
      path: '/opt/tool',
      file: { dev: (8n << 20n) | 1n, ino: 99n },
    });
    expect(proc?.flags).toBeUndefined();
  });

  it('refuses a truncated buffer', () => {
    expect(() => decodeEvents(Buffer.alloc(layout.size + 3), layout)).toThrow(/not a multiple/);
  });
});
