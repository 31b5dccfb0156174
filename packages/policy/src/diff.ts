import type { ClusterPolicy, FileRule, Group, NetworkRule, ProcessRule } from '@palisade/protocol';

export interface PolicyChange {
  /** The group concerned, or null for cluster-wide settings (defaults). */
  group: string | null;
  change: 'added' | 'removed' | 'changed';
  /** One line for people, e.g. "web: process mode discover → protect". */
  text: string;
}

export function describeProcessRule(r: ProcessRule): string {
  return `process ${r.action} ${r.path}`;
}

export function describeFileRule(r: FileRule): string {
  return `file ${r.action} ${r.access} ${r.path}`;
}

export function describeNetworkRule(r: NetworkRule): string {
  const ports =
    r.ports === 'any'
      ? 'any port'
      : `port ${r.ports.map((p) => (typeof p === 'number' ? String(p) : `${p.from}-${p.to}`)).join(',')}`;
  return `network ${r.action} ${r.to} ${ports} ${r.protocol === 'any' ? 'any protocol' : r.protocol}`;
}

function describeSelector(s: Group['selector']): string {
  const parts: string[] = [];
  if (s.namespace !== undefined) parts.push(`namespace=${s.namespace}`);
  if (s.image !== undefined) parts.push(`image=${s.image}`);
  if (s.name !== undefined) parts.push(`name=${s.name}`);
  for (const [k, v] of Object.entries(s.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    parts.push(`label ${k}=${v}`);
  }
  return parts.join(', ');
}

const KINDS = ['process', 'file', 'network'] as const;

function diffRules(group: string, before: string[], after: string[], out: PolicyChange[]) {
  const was = new Set(before);
  const now = new Set(after);
  for (const r of before) if (!now.has(r)) out.push({ group, change: 'removed', text: `${group}: - ${r}` });
  for (const r of after) if (!was.has(r)) out.push({ group, change: 'added', text: `${group}: + ${r}` });
}

/**
 * What changed between two policies, group by group, in a stable order: defaults first, then groups
 * in the order of `b` (removed groups last). Rule order alone is not a change.
 */
export function diffPolicies(a: ClusterPolicy, b: ClusterPolicy): PolicyChange[] {
  const out: PolicyChange[] = [];
  for (const kind of KINDS) {
    const from = a.defaults.modes[kind];
    const to = b.defaults.modes[kind];
    if (from !== to)
      out.push({ group: null, change: 'changed', text: `defaults: ${kind} mode ${from} → ${to}` });
  }
  const before = new Map(a.groups.map((g) => [g.name, g]));
  const after = new Set(b.groups.map((g) => g.name));
  for (const g of b.groups) {
    const old = before.get(g.name);
    if (!old) {
      out.push({
        group: g.name,
        change: 'added',
        text: `group ${g.name} added (${describeSelector(g.selector)})`,
      });
      continue;
    }
    const name = g.name;
    const oldSel = describeSelector(old.selector);
    const newSel = describeSelector(g.selector);
    if (oldSel !== newSel)
      out.push({ group: name, change: 'changed', text: `${name}: selector ${oldSel} → ${newSel}` });
    if (old.priority !== g.priority) {
      out.push({ group: name, change: 'changed', text: `${name}: priority ${old.priority} → ${g.priority}` });
    }
    for (const kind of KINDS) {
      const from = old.modes[kind] ?? `default (${a.defaults.modes[kind]})`;
      const to = g.modes[kind] ?? `default (${b.defaults.modes[kind]})`;
      if (old.modes[kind] !== g.modes[kind]) {
        out.push({ group: name, change: 'changed', text: `${name}: ${kind} mode ${from} → ${to}` });
      }
    }
    diffRules(name, old.process.map(describeProcessRule), g.process.map(describeProcessRule), out);
    diffRules(name, old.file.map(describeFileRule), g.file.map(describeFileRule), out);
    diffRules(name, old.network.map(describeNetworkRule), g.network.map(describeNetworkRule), out);
  }
  for (const g of a.groups) {
    if (!after.has(g.name)) out.push({ group: g.name, change: 'removed', text: `group ${g.name} removed` });
  }
  return out;
}
