import { committedIndex, hasQuorum, type VoteResult, voteResult } from '../quorum/majority.js';
import type { ConfState, NodeId } from '../types.js';
import { Progress } from './progress.js';

/**
 * ProgressTracker holds the current configuration (voters and learners), the leader's per-member
 * Progress, and the votes of an ongoing election.
 */
export class ProgressTracker {
  voters = new Set<NodeId>();
  learners = new Set<NodeId>();
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  constructor(readonly maxInflight: number) {}

  confState(): ConfState {
    return {
      voters: [...this.voters].sort((a, b) => a - b),
      learners: [...this.learners].sort((a, b) => a - b),
    };
  }

  isMember(id: NodeId): boolean {
    return this.voters.has(id) || this.learners.has(id);
  }

  /** members returns every voter and learner, in id order (deterministic iteration). */
  members(): NodeId[] {
    return [...this.voters, ...this.learners].sort((a, b) => a - b);
  }

  /**
   * setConfig switches to configuration `cs`. Progress of new members starts probing at `nextIndex`;
   * removed members lose theirs; promoted learners keep theirs.
   */
  setConfig(cs: ConfState, nextIndex: number): void {
    this.voters = new Set(cs.voters);
    this.learners = new Set(cs.learners);
    for (const id of [...this.progress.keys()]) {
      if (!this.isMember(id)) this.progress.delete(id);
    }
    for (const id of this.members()) {
      const pr = this.progress.get(id);
      if (pr) pr.isLearner = this.learners.has(id);
      else {
        const np = new Progress(nextIndex, this.maxInflight, this.learners.has(id));
        np.recentActive = true; // give a new member one check-quorum round to answer
        this.progress.set(id, np);
      }
    }
  }

  /** resetProgress re-creates all Progress for a new leader whose last index is `lastIndex`. */
  resetProgress(selfId: NodeId, lastIndex: number): void {
    this.progress.clear();
    for (const id of this.members()) {
      const pr = new Progress(lastIndex + 1, this.maxInflight, this.learners.has(id));
      if (id === selfId) {
        pr.match = lastIndex;
        pr.recentActive = true;
      }
      this.progress.set(id, pr);
    }
  }

  /** committed is the largest index replicated on a majority of voters. */
  committed(): number {
    return committedIndex(this.voters, (id) => this.progress.get(id)?.match);
  }

  /** quorumActive reports whether a majority of voters were recently active. */
  quorumActive(): boolean {
    const active = new Set<NodeId>();
    for (const [id, pr] of this.progress) if (pr.recentActive) active.add(id);
    return hasQuorum(this.voters, active);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): VoteResult {
    return voteResult(this.voters, this.votes);
  }
}
