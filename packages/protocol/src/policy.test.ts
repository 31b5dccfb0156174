import { describe, expect, it } from 'vitest';
import {
  ClusterPolicy,
  type ClusterPolicyInput,
  type GroupInput,
  LearnedBehaviour,
  NetworkRule,
  parseClusterPolicy,
} from './index.js';

const defaults = { modes: { process: 'discover', file: 'monitor', network: 'discover' } } as const;

function policy(groups: unknown[]): unknown {
  return { v: 1, cluster: 'prod', revision: 3, defaults, groups };
}

function group(extra: Partial<GroupInput> = {}): GroupInput {
  return { name: 'web', selector: { image: 'docker.io/library/nginx:*' }, ...extra };
}

/** The error text for a policy that must be rejected. */
function rejection(input: unknown): string {
  const parsed = parseClusterPolicy(input);
  expect(parsed.ok).toBe(false);
  return parsed.ok ? '' : parsed.error;
}

describe('ClusterPolicy', () => {
  it('accepts a full policy and fills defaults', () => {
    const input: ClusterPolicyInput = {
      v: 1,
      cluster: 'prod',
      revision: 0,
      defaults: { modes: { process: 'protect', file: 'protect', network: 'monitor' } },
      groups: [
        {
          name: 'web',
          selector: { namespace: 'shop', labels: { app: 'web' } },
          priority: 10,
          modes: { network: 'protect' },
          process: [
            { path: '/usr/sbin/nginx', action: 'allow' },
            { path: '/bin/sh', action: 'deny' },
          ],
          file: [
            { path: '/etc/nginx/', access: 'write', action: 'deny' },
            { path: '/etc/passwd', access: 'write', action: 'allow' },
            { path: '/etc/ssl/private*', access: 'write', action: 'deny' },
          ],
          network: [
            { to: '10.0.0.0/8', ports: [443, { from: 8000, to: 8100 }], protocol: 'tcp', action: 'allow' },
            { to: '2001:db8::/32', action: 'allow' },
            { to: 'any', ports: [53], protocol: 'udp', action: 'allow' },
          ],
        },
        { name: 'batch', selector: { name: 'job-*' } },
      ],
    };
    const parsed = parseClusterPolicy(input);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const [web, batch] = parsed.value.groups;
    expect(web?.network[1]).toEqual({ to: '2001:db8::/32', ports: 'any', protocol: 'any', action: 'allow' });
    expect(batch).toEqual({
      name: 'batch',
      selector: { name: 'job-*' },
      priority: 0,
      modes: {},
      process: [],
      file: [],
      network: [],
    });
  });

  it('rejects duplicate group names at the second one', () => {
    expect(rejection(policy([group(), group()]))).toContain('groups.1.name: duplicate group name web');
  });

  it('rejects an empty selector', () => {
    expect(rejection(policy([group({ selector: {} })]))).toContain(
      'groups.0.selector: a selector needs at least one of namespace, labels, image or name',
    );
    expect(rejection(policy([group({ selector: { labels: {} } })]))).toContain(
      'a selector needs at least one',
    );
  });

  it('rejects relative paths and .. with the path and the reason', () => {
    const error = rejection(
      policy([
        group({
          process: [
            { path: 'bin/sh', action: 'allow' },
            { path: '/usr/../bin/sh', action: 'allow' },
          ],
          file: [{ path: '/etc/./passwd', access: 'write', action: 'deny' }],
        }),
      ]),
    );
    expect(error).toContain('groups.0.process.0.path: "bin/sh" must be an absolute path');
    expect(error).toContain(`groups.0.process.1.path: "/usr/../bin/sh" must not contain '..'`);
    expect(error).toContain('groups.0.file.0.path');
  });

  it('only allows * at the end of a file path and never in a process path', () => {
    const error = rejection(
      policy([
        group({
          process: [{ path: '/usr/bin/*', action: 'allow' }],
          file: [{ path: '/etc/*/x', access: 'write', action: 'deny' }],
        }),
      ]),
    );
    expect(error).toContain('groups.0.process.0.path');
    expect(error).toContain('may only have * at the end');
  });

  it('rejects a path both allowed and denied in one group', () => {
    const error = rejection(
      policy([
        group({
          process: [
            { path: '/bin/sh', action: 'allow' },
            { path: '/bin/sh', action: 'deny' },
          ],
        }),
      ]),
    );
    expect(error).toContain('groups.0.process.1.action: /bin/sh is both allowed and denied');
  });

  it('rejects bad CIDRs and bare addresses', () => {
    for (const to of ['10.0.0.300/8', '10.0.0.1/33', '10.0.0.1', '2001:db8::/129', 'example.com']) {
      const error = rejection(policy([group({ network: [{ to, action: 'allow' }] })]));
      expect(error).toContain('groups.0.network.0.to: must be "any" or a CIDR');
    }
  });

  it('rejects port 0, 65536, fractional ports and reversed ranges', () => {
    const error = rejection(
      policy([
        group({
          network: [{ to: 'any', ports: [0, 65536, 80.5, { from: 90, to: 80 }], action: 'allow' }],
        }),
      ]),
    );
    expect(error).toContain('groups.0.network.0.ports.0: ports are 1-65535');
    expect(error).toContain('groups.0.network.0.ports.1: ports are 1-65535');
    expect(error).toContain('groups.0.network.0.ports.2: ports are integers');
    expect(error).toContain('groups.0.network.0.ports.3: a port range needs from <= to');
  });

  it('rejects deny network rules: the network model is an allow list', () => {
    expect(NetworkRule.safeParse({ to: 'any', action: 'deny' }).success).toBe(false);
  });

  it('rejects group names that are not DNS labels, and the reserved name default', () => {
    for (const name of ['Web', '-web', 'web-', 'a'.repeat(64), 'we_b']) {
      expect(rejection(policy([group({ name })]))).toContain('groups.0.name: group names are 1-63');
    }
    expect(rejection(policy([group({ name: 'default' })]))).toContain("'default' is reserved");
    expect(parseClusterPolicy(policy([group({ name: 'a'.repeat(63) })])).ok).toBe(true);
  });

  it('rejects unknown fields, wrong versions and too many rules', () => {
    expect(rejection(policy([group({ extra: 1 } as Partial<GroupInput>)]))).toContain('groups.0');
    expect(rejection({ ...(policy([]) as object), v: 2 })).toContain('v:');
    const many = Array.from({ length: 1025 }, (_, i) => ({ path: `/bin/p${i}`, action: 'allow' as const }));
    expect(rejection(policy([group({ process: many })]))).toContain('groups.0.process');
  });

  it('rejects a negative revision and a bad cluster name', () => {
    expect(ClusterPolicy.safeParse({ ...(policy([]) as object), revision: -1 }).success).toBe(false);
    expect(rejection({ ...(policy([]) as object), cluster: 'Prod!' })).toContain('cluster:');
  });
});

describe('LearnedBehaviour', () => {
  const times = {
    group: 'web',
    count: 3,
    firstSeen: '2026-11-23T10:00:00Z',
    lastSeen: '2026-11-23T11:00:00Z',
  };

  it('accepts each kind', () => {
    expect(LearnedBehaviour.safeParse({ ...times, kind: 'process', path: '/usr/bin/curl' }).success).toBe(
      true,
    );
    expect(LearnedBehaviour.safeParse({ ...times, kind: 'file', path: '/etc/passwd' }).success).toBe(true);
    expect(
      LearnedBehaviour.safeParse({
        ...times,
        kind: 'network',
        network: { to: '2001:db8::1', port: 443, protocol: 'tcp' },
      }).success,
    ).toBe(true);
    expect(
      LearnedBehaviour.safeParse({ ...times, group: 'default', kind: 'process', path: '/bin/true' }).success,
    ).toBe(true);
  });

  it('rejects time running backwards, a CIDR as a peer and a zero count', () => {
    const backwards = LearnedBehaviour.safeParse({
      ...times,
      firstSeen: times.lastSeen,
      lastSeen: times.firstSeen,
      kind: 'process',
      path: '/bin/true',
    });
    expect(backwards.success).toBe(false);
    expect(backwards.error?.issues[0]?.message).toBe('firstSeen is after lastSeen');
    const cidr = LearnedBehaviour.safeParse({
      ...times,
      kind: 'network',
      network: { to: '10.0.0.0/8', port: 1, protocol: 'tcp' },
    });
    expect(cidr.success).toBe(false);
    expect(LearnedBehaviour.safeParse({ ...times, count: 0, kind: 'file', path: '/etc/x' }).success).toBe(
      false,
    );
  });
});
