import type { NodeId } from '../types.js';

// Quorum maths for a single majority configuration (no joint consensus: membership changes are
// single-server, so any two consecutive configurations' majorities overlap; thesis §4.1).

export type VoteResult = 'pending' | 'lost' | 'won';

/** quorumSize is the number of voters that make a majority of n. */
export function quorumSize(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * committedIndex returns the largest index that a majority of `voters` have acknowledged, given each
 * voter's acknowledged (match) index; a voter without a value counts as 0. An empty configuration
 * commits nothing (returns 0).
 */
export function committedIndex(voters: Iterable<NodeId>, acked: (id: NodeId) => number | undefined): number {
  const idx: number[] = [];
  for (const id of voters) idx.push(acked(id) ?? 0);
  if (idx.length === 0) return 0;
  idx.sort((a, b) => b - a);
  // idx[q-1] is the largest value that q = quorumSize(n) voters have reached.
  return idx[quorumSize(idx.length) - 1] as number;
}

/**
 * voteResult tallies votes (true = granted) from `voters`: won once a majority granted, lost once a
 * majority can no longer be reached, pending otherwise. Votes from non-voters are ignored.
 */
export function voteResult(voters: ReadonlySet<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.size === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = quorumSize(voters.size);
  if (granted >= q) return 'won';
  if (granted + missing >= q) return 'pending';
  return 'lost';
}

/** hasQuorum reports whether `ids` contains a majority of `voters`. */
export function hasQuorum(voters: ReadonlySet<NodeId>, ids: ReadonlySet<NodeId>): boolean {
  if (voters.size === 0) return false;
  let n = 0;
  for (const id of voters) if (ids.has(id)) n++;
  return n >= quorumSize(voters.size);
}
