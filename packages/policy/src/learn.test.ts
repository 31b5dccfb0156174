import { Group, type GroupInput, LearnedBehaviour } from '@palisade/protocol';
import { describe, expect, it } from 'vitest';
import {
  candidatesFromBehaviours,
  candidatesFromEvents,
  type EnforcementEvent,
  mergeLearned,
  summarizeEvents,
} from './index.js';

let pid = 100;
function event(fields: Partial<EnforcementEvent> & Pick<EnforcementEvent, 'kind'>): EnforcementEvent {
  return {
    action: 'allow',
    mechanism: 'fanotify',
    cgroupId: 5n,
    pid: pid++,
    comm: 'app',
    timeNs: 1n,
    ...fields,
  };
}

const exec = (path: string) => event({ kind: 'process', mechanism: 'tp_btf-kill', path });
const write = (path: string) => event({ kind: 'file', path, flags: 1 });
const connect = (daddr: string, dport: number, protocol: 'tcp' | 'udp' = 'tcp') =>
  event({
    kind: 'network',
    mechanism: 'cgroup-connect',
    family: daddr.includes(':') ? 6 : 4,
    daddr,
    dport,
    protocol,
  });

const group = (extra: Partial<GroupInput> = {}) =>
  Group.parse({ name: 'web', selector: { name: 'web-*' }, ...extra });

describe('candidatesFromEvents', () => {
  it('turns Discover events into deduplicated allow rules of each kind', () => {
    const c = candidatesFromEvents([
      exec('/usr/bin/curl'),
      exec('/usr/bin/curl'),
      exec('/bin/sh'),
      write('/etc/passwd'),
      connect('10.0.0.5', 5432),
      connect('10.0.0.5', 5432),
      connect('2001:DB8::0:1', 443),
      connect('::ffff:10.0.0.6', 80),
      connect('10.0.0.5', 53, 'udp'),
    ]);
    expect(c.process).toEqual([
      { path: '/usr/bin/curl', action: 'allow' },
      { path: '/bin/sh', action: 'allow' },
    ]);
    expect(c.file).toEqual([{ path: '/etc/passwd', access: 'write', action: 'allow' }]);
    expect(c.network).toEqual([
      { to: '10.0.0.5/32', ports: [5432], protocol: 'tcp', action: 'allow' },
      { to: '2001:db8::1/128', ports: [443], protocol: 'tcp', action: 'allow' },
      { to: '10.0.0.6/32', ports: [80], protocol: 'tcp', action: 'allow' },
      { to: '10.0.0.5/32', ports: [53], protocol: 'udp', action: 'allow' },
    ]);
    expect(c.skipped).toEqual([]);
  });

  it('ignores alerts and denials: only Discover learns', () => {
    const c = candidatesFromEvents([
      { ...exec('/bin/sh'), action: 'alert' },
      { ...connect('1.1.1.1', 443), action: 'deny' },
    ]);
    expect(c).toEqual({ process: [], file: [], network: [], skipped: [] });
  });

  it('skips events that cannot become valid rules and says why', () => {
    const c = candidatesFromEvents([
      event({ kind: 'process', comm: 'memfd' }),
      exec('memfd:payload (deleted)'),
      exec('/tmp/../bin/x'),
      event({ kind: 'network', comm: 'nc', daddr: '10.0.0.1' }),
    ]);
    expect(c.process).toEqual([]);
    expect(c.network).toEqual([]);
    expect(c.skipped).toEqual([
      'process event without a path (memfd)',
      'process path "memfd:payload (deleted)" cannot be a rule',
      'process path "/tmp/../bin/x" cannot be a rule',
      'network event without address, port or protocol (nc)',
    ]);
  });
});

describe('summarizeEvents', () => {
  it('counts behaviours across batches and keeps first and last seen', () => {
    const first = summarizeEvents(
      'web',
      [exec('/bin/sh'), exec('/bin/sh'), connect('10.0.0.5', 443)],
      '2026-11-23T10:00:00Z',
    );
    const second = summarizeEvents(
      'web',
      [exec('/bin/sh'), write('/etc/shadow')],
      '2026-11-23T11:00:00Z',
      first,
    );
    expect(second).toEqual([
      {
        kind: 'process',
        path: '/bin/sh',
        group: 'web',
        count: 3,
        firstSeen: '2026-11-23T10:00:00Z',
        lastSeen: '2026-11-23T11:00:00Z',
      },
      {
        kind: 'network',
        network: { to: '10.0.0.5', port: 443, protocol: 'tcp' },
        group: 'web',
        count: 1,
        firstSeen: '2026-11-23T10:00:00Z',
        lastSeen: '2026-11-23T10:00:00Z',
      },
      {
        kind: 'file',
        path: '/etc/shadow',
        group: 'web',
        count: 1,
        firstSeen: '2026-11-23T11:00:00Z',
        lastSeen: '2026-11-23T11:00:00Z',
      },
    ]);
    // What an agent reports is valid on the wire, and the controller gets the same rules from it.
    for (const b of second) expect(LearnedBehaviour.safeParse(b).success).toBe(true);
    const fromWire = candidatesFromBehaviours(second);
    expect(fromWire.network).toEqual([{ to: '10.0.0.5/32', ports: [443], protocol: 'tcp', action: 'allow' }]);
    expect(fromWire.process).toEqual([{ path: '/bin/sh', action: 'allow' }]);
    expect(fromWire.file).toEqual([{ path: '/etc/shadow', access: 'write', action: 'allow' }]);
    // The input summary is not modified.
    expect(first[0]?.count).toBe(2);
  });
});

describe('mergeLearned', () => {
  const learned = candidatesFromEvents([
    exec('/usr/bin/curl'),
    exec('/bin/sh'),
    write('/etc/passwd'),
    connect('10.0.0.5', 5432),
    connect('192.168.1.1', 80),
  ]);

  it('appends new rules sorted, after the existing ones, and is idempotent', () => {
    const start = group({
      process: [{ path: '/usr/sbin/nginx', action: 'allow' }],
      network: [{ to: '172.16.0.0/12', ports: [443], protocol: 'tcp', action: 'allow' }],
    });
    const once = mergeLearned(start, learned);
    expect(once.added).toBe(5);
    expect(once.group.process.map((r) => r.path)).toEqual(['/usr/sbin/nginx', '/bin/sh', '/usr/bin/curl']);
    expect(once.group.file).toEqual([{ path: '/etc/passwd', access: 'write', action: 'allow' }]);
    expect(once.group.network.map((r) => r.to)).toEqual(['172.16.0.0/12', '10.0.0.5/32', '192.168.1.1/32']);
    const twice = mergeLearned(once.group, learned);
    expect(twice.added).toBe(0);
    expect(twice.group).toEqual(once.group);
    // The result is still a valid group, and the input group is unchanged.
    expect(Group.safeParse(once.group).success).toBe(true);
    expect(start.process).toHaveLength(1);
  });

  it('gives the same group whatever order the events came in', () => {
    const reversed = {
      process: [...learned.process].reverse(),
      file: [...learned.file].reverse(),
      network: [...learned.network].reverse(),
    };
    expect(mergeLearned(group(), reversed).group).toEqual(mergeLearned(group(), learned).group);
  });

  it("never turns an operator's deny into an allow", () => {
    const start = group({ process: [{ path: '/bin/sh', action: 'deny' }] });
    const merged = mergeLearned(start, learned);
    expect(merged.group.process).toEqual([
      { path: '/bin/sh', action: 'deny' },
      { path: '/usr/bin/curl', action: 'allow' },
    ]);
  });

  it('skips network rules an existing rule already covers', () => {
    const start = group({
      network: [
        { to: '10.0.0.0/8', ports: [{ from: 5000, to: 6000 }], protocol: 'tcp', action: 'allow' },
        { to: 'any', ports: [80], protocol: 'any', action: 'allow' },
      ],
    });
    const merged = mergeLearned(start, { process: [], file: [], network: learned.network });
    expect(merged.added).toBe(0);
    expect(merged.group.network).toEqual(start.network);
    const narrower = group({
      network: [{ to: '10.0.0.0/8', ports: [5432], protocol: 'udp', action: 'allow' }],
    });
    expect(mergeLearned(narrower, { process: [], file: [], network: learned.network }).added).toBe(2);
  });

  it('stops at the rule limit and counts what it left out', () => {
    const full = group({
      process: Array.from({ length: 1023 }, (_, i) => ({
        path: `/opt/bin/tool${i}`,
        action: 'allow' as const,
      })),
    });
    const merged = mergeLearned(full, { process: learned.process, file: [], network: [] });
    expect(merged.added).toBe(1);
    expect(merged.overLimit).toBe(1);
    expect(merged.group.process).toHaveLength(1024);
    expect(merged.group.process.at(-1)?.path).toBe('/bin/sh');
  });
});
