// Sentinel errors. Storage implementations throw these (and only these) for the conditions below; any
// other error thrown by Storage is treated as fatal by the core (the node must be stopped).

export type RaftErrorCode =
  | 'COMPACTED'
  | 'UNAVAILABLE'
  | 'SNAPSHOT_OUT_OF_DATE'
  | 'SNAPSHOT_TEMPORARILY_UNAVAILABLE'
  | 'PROPOSAL_DROPPED'
  | 'INVARIANT';

export class RaftError extends Error {
  constructor(
    readonly code: RaftErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RaftError';
  }
}

/** ErrCompacted: the requested index precedes the first available index (it was compacted away). */
export const errCompacted = (what = 'requested index is unavailable due to compaction') =>
  new RaftError('COMPACTED', what);
/** ErrUnavailable: the requested index is beyond the last available index. */
export const errUnavailable = (what = 'requested entry at index is unavailable') =>
  new RaftError('UNAVAILABLE', what);
/** ErrSnapOutOfDate: a snapshot older than the existing one was offered. */
export const errSnapOutOfDate = () =>
  new RaftError('SNAPSHOT_OUT_OF_DATE', 'requested snapshot is out of date');
/** ErrSnapshotTemporarilyUnavailable: the snapshot is being built; the core retries later. */
export const errSnapshotTemporarilyUnavailable = () =>
  new RaftError('SNAPSHOT_TEMPORARILY_UNAVAILABLE', 'snapshot is temporarily unavailable');

export function isRaftError(e: unknown, code: RaftErrorCode): e is RaftError {
  return e instanceof RaftError && e.code === code;
}

/** invariant throws when the core detects a state that would violate Raft's safety properties. */
export function invariant(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new RaftError('INVARIANT', msg);
}
