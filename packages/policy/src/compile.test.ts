import { ClusterPolicy, Group, type GroupInput } from '@palisade/protocol';
import { describe, expect, it } from 'vitest';
import {
  type CompiledContainer,
  type ContainerTarget,
  compileContainer,
  compileGeneration,
  compileNode,
  DEFAULT_PROTECTED_PATHS,
  type EffectiveGroup,
} from './index.js';
import { distroTree, memoryFs } from './test-support.js';

const target: ContainerTarget = {
  id: 'c1',
  name: 'web-1',
  image: 'nginx:1.27',
  labels: {},
  cgroupId: 9001n,
  rootPath: '/proc/77/root',
};

/** An effective group from authored rules, validated by the wire schema first. */
function effective(rules: Partial<GroupInput> = {}): EffectiveGroup {
  const g = Group.parse({ name: 'web', selector: { name: 'web-*' }, ...rules });
  return {
    name: g.name,
    selected: true,
    modes: { process: 'protect', file: 'monitor', network: 'discover' },
    process: g.process,
    file: g.file,
    network: g.network,
  };
}

function compile(rules: Partial<GroupInput> = {}, fs = memoryFs(distroTree()), maxNetEntries?: number) {
  return compileContainer(effective(rules), target, fs.resolver, maxNetEntries ? { maxNetEntries } : {});
}

/** Entries written back in rule syntax: a directory's children as "dir/", a prefix as "dir/prefix*". */
const paths = (r: CompiledContainer) =>
  r.policy.fileProtect.map((f) =>
    f.dir ? `${f.path === '/' ? '' : f.path}/${f.namePrefix ? `${f.namePrefix}*` : ''}` : f.path,
  );

describe('compileContainer: container identity and modes', () => {
  it('carries cgroup id, root path and the group modes', () => {
    const { policy } = compile();
    expect(policy.cgroupId).toBe(9001n);
    expect(policy.rootPath).toBe('/proc/77/root');
    expect(policy.modes).toEqual({ process: 'protect', file: 'monitor', network: 'discover' });
  });
});

describe('compileContainer: files', () => {
  it('protects the default paths, once per inode (merged /usr makes /bin and /usr/bin one directory)', () => {
    const fs = memoryFs(distroTree());
    const result = compile({}, fs);
    expect(result.warnings).toEqual([]);
    expect(result.policy.fileProtect).toEqual([
      { id: fs.id('/etc/passwd'), dir: false, path: '/etc/passwd' },
      { id: fs.id('/etc/shadow'), dir: false, path: '/etc/shadow' },
      { id: fs.id('/etc'), dir: true, namePrefix: 'sudoers', path: '/etc' },
      { id: fs.id('/usr/bin'), dir: true, path: '/bin' },
      { id: fs.id('/usr/sbin'), dir: true, path: '/sbin' },
    ]);
  });

  it('protects all seven defaults separately on a root without merged /usr', () => {
    const tree = distroTree();
    tree['/bin'] = 'dir';
    tree['/sbin'] = 'dir';
    const result = compile({}, memoryFs(tree));
    expect(paths(result)).toEqual([...DEFAULT_PROTECTED_PATHS]);
  });

  it('warns about defaults the image does not have and protects the rest', () => {
    const tree = distroTree();
    delete tree['/etc/shadow'];
    const result = compile({}, memoryFs(tree));
    expect(paths(result)).not.toContain('/etc/shadow');
    expect(paths(result)).toContain('/etc/passwd');
    expect(result.warnings).toEqual(['file: /etc/shadow does not exist in the container; skipped']);
  });

  it('lets an allow rule remove a default, also through another name for the same directory', () => {
    const result = compile({
      file: [
        { path: '/etc/passwd', access: 'write', action: 'allow' },
        { path: '/bin/', access: 'write', action: 'allow' },
      ],
    });
    expect(paths(result)).toEqual(['/etc/shadow', '/etc/sudoers*', '/sbin/']);
  });

  it('lets a directory-wide allow remove the files it contains', () => {
    const result = compile({ file: [{ path: '/etc/', access: 'write', action: 'allow' }] });
    expect(paths(result)).toEqual(['/bin/', '/sbin/']);
  });

  it('carves an allowed file out of a protected directory by protecting its other files', () => {
    const fs = memoryFs(distroTree());
    const result = compile({ file: [{ path: '/usr/bin/pip', access: 'write', action: 'allow' }] }, fs);
    // Listed through /bin, the first default naming that directory; dash is a link to sh.
    const binFiles = result.policy.fileProtect.filter((f) => f.path.startsWith('/bin/'));
    expect(binFiles).toEqual([
      { id: fs.id('/usr/bin/sh'), dir: false, path: '/bin/sh' },
      { id: fs.id('/usr/bin/curl'), dir: false, path: '/bin/curl' },
    ]);
    expect(result.policy.fileProtect.some((f) => f.dir && f.id.ino === fs.id('/usr/bin').ino)).toBe(false);
    expect(result.warnings).toEqual([
      'file: /bin/ is protected file by file because of /usr/bin/pip; files created there later are not covered',
    ]);
  });

  it('keeps the directory protected, and says so, when the resolver cannot list it', () => {
    const fs = memoryFs(distroTree(), { listable: false });
    const result = compile({ file: [{ path: '/usr/bin/pip', access: 'write', action: 'allow' }] }, fs);
    expect(result.policy.fileProtect).toContainEqual({ id: fs.id('/usr/bin'), dir: true, path: '/bin' });
    expect(result.warnings[0]).toMatch(/cannot exempt \/usr\/bin\/pip from \/bin\/.*stays protected/);
  });

  it('does not expand a prefix entry for an allowed file its prefix does not cover', () => {
    const result = compile({ file: [{ path: '/etc/hosts', access: 'write', action: 'allow' }] });
    expect(paths(result)).toEqual([...DEFAULT_PROTECTED_PATHS].filter((p) => !p.startsWith('/usr/')));
    expect(result.warnings).toEqual([
      'file: allow /etc/hosts matches no default protected path; it has no effect',
    ]);
  });

  it('does not call an allow ineffective when it matched under another name or exempted a file', () => {
    const result = compile({
      file: [
        { path: '/bin/', access: 'write', action: 'allow' },
        { path: '/etc/sudoers', access: 'write', action: 'allow' },
        { path: '/usr/sbin/nginx', access: 'write', action: 'allow' },
        { path: '/nowhere/file', access: 'write', action: 'allow' },
      ],
    });
    expect(result.warnings.filter((w) => w.includes('no effect'))).toEqual([
      'file: allow /nowhere/file matches no default protected path; it has no effect',
    ]);
  });

  it('expands a prefix entry without the allowed name (sub-directories cannot be opened for writing)', () => {
    const result = compile({ file: [{ path: '/etc/sudoers', access: 'write', action: 'allow' }] });
    expect(paths(result)).toEqual(['/etc/passwd', '/etc/shadow', '/bin/', '/sbin/']);
    expect(result.warnings).toHaveLength(1);
  });

  it('adds deny rules for files, directories and prefixes, and warns about missing ones', () => {
    const fs = memoryFs(distroTree());
    const result = compile(
      {
        file: [
          { path: '/app/', access: 'write', action: 'deny' },
          { path: '/etc/hosts', access: 'write', action: 'deny' },
          { path: '/app/conf*', access: 'write', action: 'deny' },
          { path: '/opt/data/', access: 'write', action: 'deny' },
        ],
      },
      fs,
    );
    expect(result.policy.fileProtect.slice(5)).toEqual([
      { id: fs.id('/app'), dir: true, path: '/app' },
      { id: fs.id('/etc/hosts'), dir: false, path: '/etc/hosts' },
      { id: fs.id('/app'), dir: true, namePrefix: 'conf', path: '/app' },
    ]);
    expect(result.warnings).toEqual([
      'file: directory /opt/data of /opt/data/ does not exist in the container; skipped',
    ]);
  });

  it('keeps an explicit deny even inside a directory the group allows', () => {
    const fs = memoryFs(distroTree());
    const result = compile(
      {
        file: [
          { path: '/usr/bin/', access: 'write', action: 'allow' },
          { path: '/usr/bin/sh', access: 'write', action: 'deny' },
        ],
      },
      fs,
    );
    expect(result.policy.fileProtect.filter((f) => f.id.ino === fs.id('/usr/bin').ino)).toEqual([]);
    expect(result.policy.fileProtect).toContainEqual({
      id: fs.id('/usr/bin/sh'),
      dir: false,
      path: '/usr/bin/sh',
    });
  });

  it('treats a directory named without a trailing slash as its children', () => {
    const fs = memoryFs(distroTree());
    const result = compile({ file: [{ path: '/app', access: 'write', action: 'deny' }] }, fs);
    expect(result.policy.fileProtect).toContainEqual({ id: fs.id('/app'), dir: true, path: '/app' });
  });
});

describe('compileContainer: processes', () => {
  it('resolves allowed binaries to inodes once each, skipping and reporting what cannot run', () => {
    const fs = memoryFs(distroTree());
    const result = compile(
      {
        process: [
          { path: '/usr/sbin/nginx', action: 'allow' },
          { path: '/bin/sh', action: 'allow' },
          { path: '/usr/bin/dash', action: 'allow' },
          { path: '/usr/local/bin/missing', action: 'allow' },
          { path: '/usr/bin', action: 'allow' },
        ],
      },
      fs,
    );
    expect(result.policy.execAllow).toEqual([
      { ...fs.id('/usr/sbin/nginx'), path: '/usr/sbin/nginx' },
      { ...fs.id('/usr/bin/sh'), path: '/bin/sh' },
    ]);
    expect(result.warnings).toEqual([
      'process: /usr/local/bin/missing does not exist in the container; rule skipped',
      'process: /usr/bin is a directory, not an executable; rule skipped',
    ]);
  });

  it('lets a deny remove an allowed path that is the same file under another name', () => {
    const result = compile({
      process: [
        { path: '/bin/sh', action: 'allow' },
        { path: '/app/server', action: 'allow' },
        { path: '/usr/bin/dash', action: 'deny' },
      ],
    });
    expect(result.policy.execAllow.map((e) => e.path)).toEqual(['/app/server']);
    expect(result.warnings).toEqual([
      'process: /bin/sh is the same file as denied /usr/bin/dash; not allowed',
    ]);
  });
});

describe('compileContainer: network', () => {
  it('turns "any" into one entry per family with port 0 and protocol any', () => {
    const result = compile({ network: [{ to: 'any', action: 'allow' }] });
    expect(result.policy.netAllow).toEqual([
      { family: 4, addr: '0.0.0.0', prefixLen: 0, port: 0, protocol: 'any' },
      { family: 6, addr: '::', prefixLen: 0, port: 0, protocol: 'any' },
    ]);
  });

  it('expands port lists and ranges, and uses port 0 for the full range', () => {
    const result = compile({
      network: [
        { to: '10.1.2.3/8', ports: [443, { from: 8000, to: 8002 }], protocol: 'tcp', action: 'allow' },
        { to: '192.168.0.0/16', ports: [{ from: 1, to: 65535 }], protocol: 'udp', action: 'allow' },
      ],
    });
    expect(result.policy.netAllow).toEqual([
      { family: 4, addr: '10.0.0.0', prefixLen: 8, port: 443, protocol: 'tcp' },
      { family: 4, addr: '10.0.0.0', prefixLen: 8, port: 8000, protocol: 'tcp' },
      { family: 4, addr: '10.0.0.0', prefixLen: 8, port: 8001, protocol: 'tcp' },
      { family: 4, addr: '10.0.0.0', prefixLen: 8, port: 8002, protocol: 'tcp' },
      { family: 4, addr: '192.168.0.0', prefixLen: 16, port: 0, protocol: 'udp' },
    ]);
  });

  it('canonicalises IPv6 CIDRs (lowercase, compressed, host bits cleared)', () => {
    const result = compile({
      network: [
        { to: '2001:DB8:0:0:0:0:0:1/128', ports: [443], protocol: 'tcp', action: 'allow' },
        { to: 'fd00:1:2:3:4:5:6:7/48', action: 'allow' },
        { to: '::ffff:10.0.0.1/128', ports: [80], protocol: 'tcp', action: 'allow' },
      ],
    });
    expect(result.policy.netAllow).toEqual([
      { family: 6, addr: '2001:db8::1', prefixLen: 128, port: 443, protocol: 'tcp' },
      { family: 6, addr: 'fd00:1:2::', prefixLen: 48, port: 0, protocol: 'any' },
      { family: 6, addr: '::ffff:a00:1', prefixLen: 128, port: 80, protocol: 'tcp' },
    ]);
  });

  it('drops duplicate entries across rules', () => {
    const result = compile({
      network: [
        { to: '10.0.0.0/8', ports: [80, 80, { from: 79, to: 81 }], protocol: 'tcp', action: 'allow' },
        { to: '10.9.9.9/8', ports: [80], protocol: 'tcp', action: 'allow' },
      ],
    });
    expect(result.policy.netAllow.map((e) => e.port)).toEqual([80, 79, 81]);
  });

  it('caps the number of entries and says how many were dropped', () => {
    const result = compile(
      { network: [{ to: '10.0.0.0/8', ports: [{ from: 1, to: 100 }], protocol: 'tcp', action: 'allow' }] },
      memoryFs(distroTree()),
      10,
    );
    expect(result.policy.netAllow).toHaveLength(10);
    expect(result.policy.netAllow.at(-1)?.port).toBe(10);
    expect(result.warnings).toEqual([
      'network: 90 allow entries beyond the limit of 10 were dropped; those connections are not allowed',
    ]);
  });

  it('applies the default cap to a huge range that is not the full range', () => {
    const result = compile({
      network: [{ to: 'any', ports: [{ from: 2, to: 65535 }], protocol: 'tcp', action: 'allow' }],
    });
    expect(result.policy.netAllow).toHaveLength(4096);
    expect(result.warnings[0]).toMatch(/^network: \d+ allow entries beyond the limit of 4096/);
    expect(result.warnings[0]).toContain(`${2 * 65534 - 4096} allow entries`);
  });
});

describe('compileGeneration', () => {
  const policyFor = (cgroupId: bigint) => ({ ...compile().policy, cgroupId });

  it('orders containers by cgroup id and accepts compile results or bare policies', () => {
    const g = compileGeneration(7, [policyFor(30n), { policy: policyFor(4n), warnings: [] }, policyFor(12n)]);
    expect(g.generation).toBe(7);
    expect(g.containers.map((c) => c.cgroupId)).toEqual([4n, 12n, 30n]);
  });

  it('refuses a cgroup twice and generations that are not positive integers', () => {
    expect(() => compileGeneration(2, [policyFor(1n), policyFor(1n)])).toThrow(/cgroup 1 appears twice/);
    expect(() => compileGeneration(0, [])).toThrow(/positive integer/);
    expect(() => compileGeneration(1.5, [])).toThrow(/positive integer/);
    expect(compileGeneration(1, []).containers).toEqual([]);
  });
});

describe('compileNode', () => {
  it('selects and compiles every container and reports groups and warnings per container', () => {
    const policy = ClusterPolicy.parse({
      v: 1,
      cluster: 'prod',
      revision: 4,
      defaults: { modes: { process: 'discover', file: 'protect', network: 'monitor' } },
      groups: [
        {
          name: 'web',
          selector: { image: 'nginx:*' },
          modes: { process: 'protect' },
          process: [
            { path: '/usr/sbin/nginx', action: 'allow' },
            { path: '/nope', action: 'allow' },
          ],
        },
      ],
    });
    const fs = memoryFs(distroTree());
    const node = compileNode(policy, 3, [
      { ...target, id: 'web', image: 'nginx:1.27', cgroupId: 20n, resolver: fs.resolver },
      { ...target, id: 'other', image: 'redis:7', cgroupId: 10n, resolver: fs.resolver },
    ]);
    expect(node.generation.generation).toBe(3);
    expect(node.generation.containers.map((c) => [c.cgroupId, c.modes.process, c.execAllow.length])).toEqual([
      [10n, 'discover', 0],
      [20n, 'protect', 1],
    ]);
    expect(node.containers).toEqual({
      web: { group: 'web', warnings: ['process: /nope does not exist in the container; rule skipped'] },
      other: { group: 'default', warnings: [] },
    });
  });
});
