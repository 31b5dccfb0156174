import type { Snapshot } from '../types.js';
import { Inflights } from './inflights.js';

/**
 * ProgressState is the leader's replication mode for one follower:
 * - probe:     we do not know where the follower's log matches ours; send one append per heartbeat
 *              interval and wait for the answer (paper §5.3 backtracking).
 * - replicate: the log matches up to `match`; stream appends optimistically, up to the inflight
 *              window (pipelining).
 * - snapshot:  the entries the follower needs are compacted away; stream a snapshot in chunks.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** SnapshotSend tracks a chunked InstallSnapshot in progress to one follower. */
export interface SnapshotSend {
  readonly snapshot: Snapshot;
  /** Bytes sent (the next chunk's offset). */
  sentOffset: number;
  /** Bytes the follower has confirmed receiving, in order. */
  ackedOffset: number;
  /** Heartbeat intervals since the follower last confirmed a chunk. */
  idleBeats: number;
  /** The final chunk has been sent (reset when rewinding). */
  doneSent: boolean;
}

/** Progress is the leader's view of one follower (or learner). */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an append was sent and we are waiting for its answer (or the next heartbeat). */
  probeSent = false;
  /** Set by any message from the follower; cleared at every check-quorum round. */
  recentActive = false;
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  snap: SnapshotSend | undefined = undefined;
  /** The commit index carried by the last append sent. */
  sentCommit = 0;
  /** `match` when the last heartbeat was sent, and how many heartbeat rounds in a row saw no progress. */
  beatMatch = -1;
  stallBeats = 0;
  readonly inflights: Inflights;

  constructor(
    next: number,
    maxInflight: number,
    public isLearner: boolean,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snap = undefined;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    this.resetState('probe');
    this.next = this.match + 1;
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshot: Snapshot): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshot.metadata.index;
    this.snap = { snapshot, sentOffset: 0, ackedOffset: 0, idleBeats: 0, doneSent: false };
  }

  /** maybeUpdate records that the follower's log matches ours up to n; returns whether match grew. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * maybeDecrTo handles a rejected append whose previous index was `rejected`; `matchHint` is the
   * highest index at which the logs may still match. Returns false if the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false; // stale: an older message was rejected
      this.next = this.match + 1;
      return true;
    }
    if (this.state === 'snapshot') return false;
    if (this.next - 1 !== rejected) return false; // not the probe we are waiting for
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** sentEntries updates flow control after sending an append ending at `lastIndex`. */
  sentEntries(lastIndex: number, nEntries: number): void {
    if (this.state === 'replicate') {
      if (nEntries > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  toString(): string {
    return `${this.state} match=${this.match} next=${this.next}${this.isLearner ? ' learner' : ''}${this.state === 'snapshot' ? ` pendingSnap=${this.pendingSnapshot}` : ''}${this.inflights.full() ? ' inflight-full' : ''}`;
  }
}
