import type { ClusterPolicy, FileRule, NetworkRule, ProcessRule } from '@palisade/protocol';
import type { Mode, RuleKind } from './enforcement.js';

/** What the agent knows about a container when it picks the container's group. */
export interface ContainerFacts {
  id: string;
  name: string;
  image: string;
  /** Kubernetes namespace, or the containerd namespace for plain containers. */
  namespace?: string;
  labels: Record<string, string>;
}

/** The group a container gets, with every mode resolved (group's own, else the cluster's defaults). */
export interface EffectiveGroup {
  name: string;
  /** False for the synthesized `default` group of containers no group selects. */
  selected: boolean;
  modes: Record<RuleKind, Mode>;
  process: ProcessRule[];
  file: FileRule[];
  network: NetworkRule[];
}

export const DEFAULT_GROUP_NAME = 'default';

/** Anchored match where `*` stands for any run of characters and everything else is literal. */
export function globMatch(pattern: string, text: string): boolean {
  const parts = pattern.split('*');
  const first = parts[0] ?? '';
  const last = parts.at(-1) ?? '';
  if (parts.length === 1) return pattern === text;
  if (!text.startsWith(first) || text.length < first.length + last.length || !text.endsWith(last)) {
    return false;
  }
  // Greedy-free scan: each middle part must appear, in order, between the fixed prefix and suffix.
  let at = first.length;
  const end = text.length - last.length;
  for (const part of parts.slice(1, -1)) {
    const found = text.indexOf(part, at);
    if (found === -1 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

type Selector = ClusterPolicy['groups'][number]['selector'];

export function selectorMatches(selector: Selector, container: ContainerFacts): boolean {
  if (selector.namespace !== undefined && selector.namespace !== container.namespace) return false;
  if (selector.image !== undefined && !globMatch(selector.image, container.image)) return false;
  if (selector.name !== undefined && !globMatch(selector.name, container.name)) return false;
  for (const [key, value] of Object.entries(selector.labels ?? {})) {
    if (!Object.hasOwn(container.labels, key) || container.labels[key] !== value) return false;
  }
  return true;
}

/**
 * The group for a container: of the groups whose selector matches, the highest priority; on a tie
 * the name that sorts first (code-unit order, so the answer never depends on locale). No match
 * gives the `default` group: the cluster's default modes and no rules beyond the default
 * protected paths.
 */
export function selectGroup(policy: ClusterPolicy, container: ContainerFacts): EffectiveGroup {
  let best: ClusterPolicy['groups'][number] | undefined;
  for (const group of policy.groups) {
    if (!selectorMatches(group.selector, container)) continue;
    if (
      best === undefined ||
      group.priority > best.priority ||
      (group.priority === best.priority && group.name < best.name)
    ) {
      best = group;
    }
  }
  const defaults = policy.defaults.modes;
  if (!best) {
    return {
      name: DEFAULT_GROUP_NAME,
      selected: false,
      modes: { ...defaults },
      process: [],
      file: [],
      network: [],
    };
  }
  return {
    name: best.name,
    selected: true,
    modes: {
      process: best.modes.process ?? defaults.process,
      file: best.modes.file ?? defaults.file,
      network: best.modes.network ?? defaults.network,
    },
    process: best.process,
    file: best.file,
    network: best.network,
  };
}
