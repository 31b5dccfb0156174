import type { ConfChange, ConfState, Entry, NodeId } from '../types.js';

// Single-server membership changes (thesis §4.1): each change adds or removes one voter, or adds or
// promotes a learner, so the majorities of consecutive configurations always overlap.

/**
 * checkConfChange returns why `cc` is not a valid change of `cs`, or undefined if it is. Rules:
 * addVoter adds a new voter or promotes a learner; addLearner adds a new member as a learner (voters
 * cannot be demoted); removeNode removes a member but never the last voter.
 */
export function checkConfChange(cs: ConfState, cc: ConfChange): string | undefined {
  if (!Number.isSafeInteger(cc.nodeId) || cc.nodeId <= 0) return `invalid node id ${cc.nodeId}`;
  const isVoter = cs.voters.includes(cc.nodeId);
  const isLearner = cs.learners.includes(cc.nodeId);
  switch (cc.type) {
    case 'addVoter':
      return isVoter ? `${cc.nodeId} is already a voter` : undefined;
    case 'addLearner':
      if (isVoter) return `${cc.nodeId} is a voter; demotion is not supported`;
      return isLearner ? `${cc.nodeId} is already a learner` : undefined;
    case 'removeNode':
      if (!isVoter && !isLearner) return `${cc.nodeId} is not a member`;
      if (isVoter && cs.voters.length === 1) return `cannot remove the last voter ${cc.nodeId}`;
      return undefined;
    default:
      return `unknown conf change type ${(cc as { type: unknown }).type}`;
  }
}

/**
 * applyConfChange returns the configuration after `cc`. An invalid change leaves `cs` unchanged: all
 * nodes apply the same entries in the same order, so they all ignore it identically.
 */
export function applyConfChange(cs: ConfState, cc: ConfChange): ConfState {
  if (checkConfChange(cs, cc) !== undefined) return cs;
  const sort = (ids: NodeId[]) => ids.sort((a, b) => a - b);
  const voters = cs.voters.filter((id) => id !== cc.nodeId);
  const learners = cs.learners.filter((id) => id !== cc.nodeId);
  if (cc.type === 'addVoter') voters.push(cc.nodeId);
  if (cc.type === 'addLearner') learners.push(cc.nodeId);
  return { voters: sort(voters), learners: sort(learners) };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * A confChange entry carries the change and the whole configuration that results from it. Nodes
 * take the configuration from the entry rather than re-deriving it, so a node that never saw the
 * earlier configuration entries (a new member, which starts with an empty log) still ends up with
 * the right one.
 */
export interface ConfChangeEntry {
  readonly change: ConfChange;
  readonly confState: ConfState | undefined;
}

export function encodeConfChange(cc: ConfChange, confState?: ConfState): Uint8Array {
  const body: Record<string, unknown> = { type: cc.type, nodeId: cc.nodeId };
  if (confState) body.confState = { voters: [...confState.voters], learners: [...confState.learners] };
  return enc.encode(JSON.stringify(body));
}

const isIds = (v: unknown): v is number[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x > 0);

/** decodeConfChangeEntry parses a confChange entry's data; undefined if malformed. */
export function decodeConfChangeEntry(data: Uint8Array): ConfChangeEntry | undefined {
  try {
    const v = JSON.parse(dec.decode(data)) as { type?: unknown; nodeId?: unknown; confState?: unknown };
    if (
      (v.type === 'addVoter' || v.type === 'addLearner' || v.type === 'removeNode') &&
      typeof v.nodeId === 'number' &&
      Number.isSafeInteger(v.nodeId) &&
      v.nodeId > 0
    ) {
      let confState: ConfState | undefined;
      const cs = v.confState as { voters?: unknown; learners?: unknown } | undefined;
      if (cs !== undefined) {
        if (typeof cs !== 'object' || cs === null || !isIds(cs.voters) || !isIds(cs.learners))
          return undefined;
        confState = { voters: cs.voters, learners: cs.learners };
      }
      return { change: { type: v.type, nodeId: v.nodeId }, confState };
    }
  } catch {
    // fall through
  }
  return undefined;
}

/** decodeConfChange returns just the change of a confChange entry's data. */
export function decodeConfChange(data: Uint8Array): ConfChange | undefined {
  return decodeConfChangeEntry(data)?.change;
}

/**
 * confStateAfter returns the configuration in effect after entry `e`, given the one before it:
 * the configuration the entry carries, else `cs` with the change applied (malformed entries change
 * nothing).
 */
export function confStateAfter(cs: ConfState, e: Entry): ConfState {
  if (e.type !== 'confChange') return cs;
  const d = decodeConfChangeEntry(e.data);
  if (!d) return cs;
  return d.confState ?? applyConfChange(cs, d.change);
}

export function confStatesEqual(a: ConfState, b: ConfState): boolean {
  const eq = (x: readonly NodeId[], y: readonly NodeId[]) => {
    if (x.length !== y.length) return false;
    const xs = [...x].sort((p, q) => p - q);
    const ys = [...y].sort((p, q) => p - q);
    return xs.every((v, i) => v === ys[i]);
  };
  return eq(a.voters, b.voters) && eq(a.learners, b.learners);
}

/**
 * bootstrapEntries returns a log a brand-new cluster can start from: one addVoter entry per founding
 * member at term 1. Every founding member starts with exactly these entries and a HardState
 * {term: 1, vote: 0, commit: n}. (Alternatively, start every founder from a snapshot at index 0
 * whose metadata carries the ConfState; members added later start empty either way.)
 */
export function bootstrapEntries(voters: readonly NodeId[]): Entry[] {
  let cs: ConfState = { voters: [], learners: [] };
  return voters.map((id, i) => {
    const cc: ConfChange = { type: 'addVoter', nodeId: id };
    cs = applyConfChange(cs, cc);
    return { term: 1, index: i + 1, type: 'confChange' as const, data: encodeConfChange(cc, cs) };
  });
}
