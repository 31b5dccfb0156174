import { Group } from '@palisade/protocol';
import { describe, expect, it } from 'vitest';
import { type Action, compileContainer, decide, evaluate, type Mode } from './index.js';
import { distroTree, emptyPolicy, memoryFs } from './test-support.js';

const fs = memoryFs(distroTree());
const rules = Group.parse({
  name: 'web',
  selector: { name: 'web-*' },
  process: [{ path: '/usr/sbin/nginx', action: 'allow' }],
  file: [{ path: '/app/conf*', access: 'write', action: 'deny' }],
  network: [
    { to: '10.0.0.0/8', ports: [5432], protocol: 'tcp', action: 'allow' },
    { to: '2001:db8::/32', ports: [{ from: 1, to: 65535 }], protocol: 'udp', action: 'allow' },
  ],
});

function policyIn(mode: Mode) {
  const group = { ...rules, selected: true, modes: { process: mode, file: mode, network: mode } };
  const target = { id: 'c', name: 'web-1', image: 'x', labels: {}, cgroupId: 1n, rootPath: '/proc/1/root' };
  return compileContainer(group, target, fs.resolver).policy;
}

const nginx: Action = { kind: 'process', file: fs.id('/usr/sbin/nginx') };
const shell: Action = { kind: 'process', file: fs.id('/bin/sh') };
const writePasswd: Action = { kind: 'file', file: fs.id('/etc/passwd'), write: true };
const readPasswd: Action = { kind: 'file', file: fs.id('/etc/passwd'), write: false };
const writeHosts: Action = { kind: 'file', file: fs.id('/etc/hosts'), write: true };
const dropBinary: Action = {
  kind: 'file',
  file: { dev: 1n, ino: 99999n },
  parent: fs.id('/usr/bin'),
  name: 'evil',
  write: true,
};
const writeSudoersD: Action = {
  kind: 'file',
  file: { dev: 1n, ino: 99998n },
  parent: fs.id('/etc'),
  name: 'sudoers.tmp',
  write: true,
};
const writeConfig: Action = {
  kind: 'file',
  file: fs.id('/app/server'),
  parent: fs.id('/app'),
  name: 'config.yml',
  write: true,
};
const writeServer: Action = {
  kind: 'file',
  file: fs.id('/app/server'),
  parent: fs.id('/app'),
  name: 'server',
  write: true,
};
const db: Action = { kind: 'network', daddr: '10.20.30.40', dport: 5432, protocol: 'tcp' };
const dbMapped: Action = { kind: 'network', daddr: '::ffff:10.20.30.40', dport: 5432, protocol: 'tcp' };
const dbWrongPort: Action = { kind: 'network', daddr: '10.20.30.40', dport: 5433, protocol: 'tcp' };
const dbUdp: Action = { kind: 'network', daddr: '10.20.30.40', dport: 5432, protocol: 'udp' };
const v6Udp: Action = { kind: 'network', daddr: '2001:db8::53', dport: 53, protocol: 'udp' };
const v6Tcp: Action = { kind: 'network', daddr: '2001:db8::53', dport: 53, protocol: 'tcp' };
const internet: Action = { kind: 'network', daddr: '8.8.8.8', dport: 443, protocol: 'tcp' };

const allowed = [nginx, readPasswd, writeHosts, writeServer, db, dbMapped, v6Udp];
const guarded = [
  shell,
  writePasswd,
  dropBinary,
  writeSudoersD,
  writeConfig,
  dbWrongPort,
  dbUdp,
  v6Tcp,
  internet,
];

describe('decide', () => {
  it.each([
    ['discover', 'allow'],
    ['monitor', 'alert'],
    ['protect', 'deny'],
  ] as const)('in %s mode answers %s for what is not allowed, with an event', (mode, expected) => {
    const policy = policyIn(mode);
    for (const action of guarded) {
      expect({ action, verdict: evaluate(policy, action) }).toEqual({
        action,
        verdict: { decision: expected, event: true, guarded: true },
      });
    }
  });

  it.each(['discover', 'monitor', 'protect'] as const)(
    'in %s mode allows what the rules allow, silently',
    (mode) => {
      const policy = policyIn(mode);
      for (const action of allowed) {
        expect({ action, verdict: evaluate(policy, action) }).toEqual({
          action,
          verdict: { decision: 'allow', event: false, guarded: false },
        });
      }
    },
  );

  it('uses the mode of the action kind only', () => {
    const policy = {
      ...policyIn('protect'),
      modes: { process: 'protect', file: 'discover', network: 'monitor' } as const,
    };
    expect(decide(policy, shell)).toBe('deny');
    expect(decide(policy, writePasswd)).toBe('allow');
    expect(evaluate(policy, writePasswd).event).toBe(true);
    expect(decide(policy, internet)).toBe('alert');
  });

  it('denies everything guarded for an empty policy in protect mode and nothing is allowed by accident', () => {
    const policy = emptyPolicy();
    expect(decide(policy, nginx)).toBe('deny');
    expect(decide(policy, db)).toBe('deny');
    expect(decide(policy, { kind: 'network', daddr: 'not-an-ip', dport: 1, protocol: 'tcp' })).toBe('deny');
    // No protected files: writes are not guarded at all.
    expect(decide(policy, writePasswd)).toBe('allow');
  });

  it('matches port 0 as any port and protocol any as both', () => {
    const policy = emptyPolicy({
      netAllow: [{ family: 4, addr: '0.0.0.0', prefixLen: 0, port: 0, protocol: 'any' }],
    });
    expect(decide(policy, internet)).toBe('allow');
    expect(decide(policy, dbUdp)).toBe('allow');
    expect(decide(policy, v6Tcp)).toBe('deny');
  });
});
