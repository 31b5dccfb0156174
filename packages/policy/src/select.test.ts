import {
  type ClusterPolicy,
  ClusterPolicy as ClusterPolicySchema,
  type GroupInput,
} from '@palisade/protocol';
import { describe, expect, it } from 'vitest';
import { type ContainerFacts, globMatch, selectGroup } from './index.js';

function policy(groups: GroupInput[]): ClusterPolicy {
  return ClusterPolicySchema.parse({
    v: 1,
    cluster: 'prod',
    revision: 1,
    defaults: { modes: { process: 'monitor', file: 'protect', network: 'discover' } },
    groups,
  });
}

const nginx: ContainerFacts = {
  id: 'c1',
  name: 'web-1',
  image: 'docker.io/library/nginx:1.27',
  namespace: 'shop',
  labels: { app: 'web', tier: 'front' },
};

describe('globMatch', () => {
  it.each([
    ['nginx', 'nginx', true],
    ['nginx', 'nginx2', false],
    ['*', '', true],
    ['*', 'anything/at:all', true],
    ['docker.io/library/nginx:*', 'docker.io/library/nginx:1.27', true],
    ['docker.io/library/nginx:*', 'evil.io/docker.io/library/nginx:1.27', false],
    ['*nginx*', 'docker.io/library/nginx:1.27', true],
    ['web-*', 'web-', true],
    ['web-*', 'xweb-1', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'acb', false],
    ['a*a', 'a', false],
    ['*.example.*', 'x.example', false],
    ['registry/*/app:*', 'registry/team/app:v1', true],
    ['nginx.*', 'nginxx1', false],
  ])('%s vs %s → %s', (pattern, text, expected) => {
    expect(globMatch(pattern, text)).toBe(expected);
  });
});

describe('selectGroup', () => {
  it('gives the default group with the cluster modes and no rules when nothing matches', () => {
    const chosen = selectGroup(policy([{ name: 'db', selector: { image: 'postgres:*' } }]), nginx);
    expect(chosen).toEqual({
      name: 'default',
      selected: false,
      modes: { process: 'monitor', file: 'protect', network: 'discover' },
      process: [],
      file: [],
      network: [],
    });
  });

  it('requires every criterion of a selector', () => {
    const p = policy([
      { name: 'wrong-ns', selector: { namespace: 'other', image: 'docker.io/library/nginx:*' } },
      { name: 'wrong-label', selector: { labels: { app: 'web', tier: 'back' } } },
      { name: 'missing-label', selector: { labels: { team: '' } } },
      { name: 'right', selector: { namespace: 'shop', labels: { app: 'web' }, name: 'web-*' } },
    ]);
    expect(selectGroup(p, nginx).name).toBe('right');
    expect(selectGroup(p, { ...nginx, namespace: undefined }).name).toBe('default');
  });

  it('matches an empty label value only when the label exists', () => {
    const p = policy([{ name: 'flagged', selector: { labels: { flag: '' } } }]);
    expect(selectGroup(p, nginx).name).toBe('default');
    expect(selectGroup(p, { ...nginx, labels: { flag: '' } }).name).toBe('flagged');
  });

  it('does not treat inherited object keys as labels', () => {
    const p = policy([{ name: 'proto', selector: { labels: { constructor: 'x' } } }]);
    expect(selectGroup(p, { ...nginx, labels: {} }).name).toBe('default');
  });

  it('picks the highest priority, whatever the order of groups', () => {
    const groups: GroupInput[] = [
      { name: 'broad', selector: { image: '*' }, priority: 0 },
      { name: 'specific', selector: { labels: { app: 'web' } }, priority: 5 },
      { name: 'negative', selector: { name: 'web-*' }, priority: -5 },
    ];
    expect(selectGroup(policy(groups), nginx).name).toBe('specific');
    expect(selectGroup(policy([...groups].reverse()), nginx).name).toBe('specific');
  });

  it('breaks priority ties by name order, independent of list order', () => {
    const groups: GroupInput[] = [
      { name: 'zeta', selector: { image: '*' }, priority: 1 },
      { name: 'alpha', selector: { name: 'web-*' }, priority: 1 },
      { name: 'beta', selector: { namespace: 'shop' }, priority: 1 },
    ];
    expect(selectGroup(policy(groups), nginx).name).toBe('alpha');
    expect(selectGroup(policy([...groups].reverse()), nginx).name).toBe('alpha');
  });

  it("resolves each mode from the group, else from the cluster's defaults", () => {
    const p = policy([
      {
        name: 'web',
        selector: { name: 'web-*' },
        modes: { network: 'protect' },
        process: [{ path: '/usr/sbin/nginx', action: 'allow' }],
      },
    ]);
    const chosen = selectGroup(p, nginx);
    expect(chosen.selected).toBe(true);
    expect(chosen.modes).toEqual({ process: 'monitor', file: 'protect', network: 'protect' });
    expect(chosen.process).toEqual([{ path: '/usr/sbin/nginx', action: 'allow' }]);
  });
});
