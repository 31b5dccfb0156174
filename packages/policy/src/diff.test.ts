import { ClusterPolicy, type ClusterPolicyInput } from '@palisade/protocol';
import { describe, expect, it } from 'vitest';
import { diffPolicies } from './index.js';

const base: ClusterPolicyInput = {
  v: 1,
  cluster: 'prod',
  revision: 1,
  defaults: { modes: { process: 'discover', file: 'monitor', network: 'discover' } },
  groups: [
    {
      name: 'web',
      selector: { image: 'nginx:*' },
      process: [
        { path: '/usr/sbin/nginx', action: 'allow' },
        { path: '/bin/sh', action: 'allow' },
      ],
      network: [
        { to: '10.0.0.0/8', ports: [443, { from: 8000, to: 8100 }], protocol: 'tcp', action: 'allow' },
      ],
    },
    { name: 'old', selector: { name: 'legacy-*' } },
  ],
};

const parse = (p: ClusterPolicyInput) => ClusterPolicy.parse(p);

describe('diffPolicies', () => {
  it('finds nothing between equal policies, even with rules reordered', () => {
    const a = parse(base);
    const reordered = parse(base);
    reordered.groups[0]?.process.reverse();
    expect(diffPolicies(a, a)).toEqual([]);
    expect(diffPolicies(a, reordered)).toEqual([]);
  });

  it('lists mode, rule, selector, priority and group changes in a stable order', () => {
    const next = parse({
      ...base,
      revision: 2,
      defaults: { modes: { process: 'discover', file: 'protect', network: 'discover' } },
      groups: [
        {
          name: 'web',
          selector: { image: 'nginx:*', namespace: 'shop' },
          priority: 3,
          modes: { process: 'protect' },
          process: [{ path: '/usr/sbin/nginx', action: 'allow' }],
          file: [{ path: '/etc/nginx/', access: 'write', action: 'deny' }],
          network: [{ to: 'any', ports: [53], protocol: 'udp', action: 'allow' }],
        },
        { name: 'batch', selector: { labels: { kind: 'job' } } },
      ],
    });
    expect(diffPolicies(parse(base), next).map((c) => c.text)).toEqual([
      'defaults: file mode monitor → protect',
      'web: selector image=nginx:* → namespace=shop, image=nginx:*',
      'web: priority 0 → 3',
      'web: process mode default (discover) → protect',
      'web: - process allow /bin/sh',
      'web: + file deny write /etc/nginx/',
      'web: - network allow 10.0.0.0/8 port 443,8000-8100 tcp',
      'web: + network allow any port 53 udp',
      'group batch added (label kind=job)',
      'group old removed',
    ]);
    const kinds = diffPolicies(parse(base), next).map((c) => [c.group, c.change]);
    expect(kinds[0]).toEqual([null, 'changed']);
    expect(kinds.at(-2)).toEqual(['batch', 'added']);
    expect(kinds.at(-1)).toEqual(['old', 'removed']);
  });

  it('reports a changed rule action as one removal and one addition', () => {
    const next = parse(base);
    const sh = next.groups[0]?.process[1];
    if (sh) sh.action = 'deny';
    expect(diffPolicies(parse(base), next).map((c) => c.text)).toEqual([
      'web: - process allow /bin/sh',
      'web: + process deny /bin/sh',
    ]);
  });
});
