// Wire and persistence types of the Raft core (the equivalent of etcd's raftpb). Everything here is
// plain data: no methods, no classes, so messages can be cloned, serialized and compared freely.

/** NodeId identifies a Raft member. Valid ids are positive safe integers; 0 (NONE) means "nobody". */
export type NodeId = number;

/** NONE is the placeholder id used for "no leader" and "no vote". */
export const NONE: NodeId = 0;

export type EntryType = 'normal' | 'confChange';

/**
 * Entry is one log record. `data` is opaque to the core for normal entries; for `confChange` entries it
 * holds an encoded ConfChange (see confchange/confchange.ts). Entries are never mutated once created.
 */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/**
 * HardState is the part of a node's state that must be on stable storage before any message that
 * depends on it is sent: the current term, the vote cast in that term, and the commit index (the
 * commit index may lag on disk; it is only an optimisation for restarts).
 */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: NONE, commit: 0 });

/** ConfState is a membership configuration: voting members and non-voting learners (disjoint). */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export const EMPTY_CONF_STATE: ConfState = Object.freeze({ voters: [], learners: [] });

/** SnapshotMetadata names the last log entry a snapshot covers and the configuration at that entry. */
export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

/** Snapshot is an application state image covering the log up to and including metadata.index. */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

/** ConfChangeType: single-server membership changes only (Raft thesis §4.1; no joint consensus). */
export type ConfChangeType = 'addVoter' | 'addLearner' | 'removeNode';

/**
 * ConfChange adds a voter (or promotes a learner), adds a learner, or removes a member. It is proposed
 * through RawNode.proposeConfChange and travels in a `confChange` entry, together with the whole
 * resulting ConfState (see confchange.ts). NB: a configuration takes effect as soon as its entry is
 * appended to a node's log, committed or not (thesis §4.1); a truncated configuration entry reverts
 * the node to the previous configuration.
 */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

/**
 * SnapshotChunk is one piece of a streamed InstallSnapshot (Raft paper §7, Figure 13): the chunk at
 * byte `offset` of a snapshot of `totalSize` bytes, `done` on the last one.
 */
export interface SnapshotChunk {
  readonly metadata: SnapshotMetadata;
  readonly offset: number;
  readonly totalSize: number;
  readonly data: Uint8Array;
  readonly done: boolean;
}

/** Local message types are produced by the RawNode API and the clock; they never travel the network. */
export const LOCAL_MESSAGE_TYPES = ['hup', 'beat', 'prop', 'checkQuorum'] as const;

/** Network message types. */
export const NETWORK_MESSAGE_TYPES = [
  'app',
  'appResp',
  'vote',
  'voteResp',
  'preVote',
  'preVoteResp',
  'heartbeat',
  'heartbeatResp',
  'snap',
  'snapResp',
  'readIndex',
  'readIndexResp',
  'transferLeader',
  'timeoutNow',
] as const;

export type LocalMessageType = (typeof LOCAL_MESSAGE_TYPES)[number];
export type NetworkMessageType = (typeof NETWORK_MESSAGE_TYPES)[number];
export type MessageType = LocalMessageType | NetworkMessageType;

/**
 * Message is the single, flat message shape (like raftpb.Message). Field meaning by type:
 *
 * - app:          index/logTerm = prevLogIndex/prevLogTerm, entries, commit = leader commit.
 * - appResp:      index = last index now matching (success) or the rejected prevLogIndex (reject);
 *                 on reject, rejectHint/logTerm = the follower's hint for fast log backtracking.
 * - vote/preVote: index/logTerm = candidate's last log index/term; term = the term campaigned for
 *                 (the next term for preVote); context = TRANSFER_CONTEXT when forced by timeoutNow.
 * - *Resp:        reject = vote refused.
 * - heartbeat:    commit = min(follower's match, leader commit); context = ReadIndex round id, echoed.
 * - snap:         snapshot = one chunk.
 * - snapResp:     index = snapshot index; rejectHint = bytes received so far; reject = out of order.
 * - readIndex:    context = caller's request id. readIndexResp: index = read index, context echoed.
 * - transferLeader: index = the transferee's id.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly logTerm: number;
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  readonly rejectHint: number;
  readonly context: Uint8Array;
  readonly snapshot: SnapshotChunk | null;
}

const EMPTY_BYTES = new Uint8Array(0);

/** message builds a Message, defaulting every field not given. */
export function message(m: Partial<Message> & Pick<Message, 'type'>): Message {
  return {
    from: NONE,
    to: NONE,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: EMPTY_BYTES,
    snapshot: null,
    ...m,
  };
}

/** TRANSFER_CONTEXT marks a vote request forced by leader transfer: it bypasses leader leases. */
export const TRANSFER_CONTEXT: Uint8Array = new TextEncoder().encode('CampaignTransfer');

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** bytesKey turns opaque bytes (a ReadIndex context) into a Map key. */
export function bytesKey(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.byteLength; i++) s += (b[i] as number).toString(16).padStart(2, '0');
  return s;
}

/** entrySize is the accounting size of an entry for batching limits. */
export function entrySize(e: Entry): number {
  return e.data.byteLength + 16;
}

export function isResponseType(t: MessageType): boolean {
  return (
    t === 'appResp' ||
    t === 'voteResp' ||
    t === 'preVoteResp' ||
    t === 'heartbeatResp' ||
    t === 'snapResp' ||
    t === 'readIndexResp'
  );
}

export type StateType = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** SoftState is volatile state useful to the caller (not persisted). */
export interface SoftState {
  readonly lead: NodeId;
  readonly state: StateType;
}

/**
 * ReadState answers a ReadIndex request: once the local state machine has applied `index`, a read
 * issued before the request was made is linearizable (thesis §6.4). `context` is the request id.
 */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}
