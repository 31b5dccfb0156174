import {
  type Entry,
  type Message,
  NETWORK_MESSAGE_TYPES,
  type NetworkMessageType,
  type NodeId,
  type SnapshotChunk,
} from './types.js';

/** DropReason says why validateMessage refused a message from the network. */
export type DropReason = 'malformed' | 'misrouted' | 'unknownNode' | 'staleConfig';

/** MembershipView is what validation needs to know about the receiver's configuration. */
export interface MembershipView {
  readonly id: NodeId;
  isVoter(id: NodeId): boolean;
  isMember(id: NodeId): boolean;
  /** wasMember: the id appeared in some configuration this node has seen, but may have been removed. */
  wasMember(id: NodeId): boolean;
  /** logAtLeastAsUpToDate: is a log ending at (index, term) at least as up-to-date as ours? */
  logAtLeastAsUpToDate(index: number, term: number): boolean;
}

const NETWORK_TYPES: ReadonlySet<string> = new Set(NETWORK_MESSAGE_TYPES);

/**
 * Messages a leader sends to bring a node up to date. They are accepted from non-members because the
 * receiver may simply not have caught up with the configuration that added the sender (a lagging
 * follower, or a brand-new node that knows no configuration yet). Term checks still apply.
 */
const LEADER_TYPES: ReadonlySet<NetworkMessageType> = new Set(['app', 'heartbeat', 'snap', 'timeoutNow']);

/** Types whose sender must hold a term (responses may come from a node that never saw one). */
const TERMED_TYPES: ReadonlySet<NetworkMessageType> = new Set([
  'app',
  'heartbeat',
  'snap',
  'timeoutNow',
  'vote',
  'preVote',
  'readIndexResp',
]);

const isU = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isId = (v: unknown): v is number => isU(v) && v > 0;
const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

function entryOk(e: unknown): e is Entry {
  if (typeof e !== 'object' || e === null) return false;
  const x = e as Record<string, unknown>;
  return isId(x.index) && isId(x.term) && (x.type === 'normal' || x.type === 'confChange') && isBytes(x.data);
}

function idsOk(v: unknown): boolean {
  return Array.isArray(v) && v.every(isId) && new Set(v).size === v.length;
}

function chunkOk(c: unknown, term: number): c is SnapshotChunk {
  if (typeof c !== 'object' || c === null) return false;
  const x = c as Record<string, unknown>;
  const md = x.metadata as Record<string, unknown> | null | undefined;
  if (typeof md !== 'object' || md === null) return false;
  if (!isId(md.index) || !isId(md.term) || md.term > term) return false;
  const cs = md.confState as Record<string, unknown> | null | undefined;
  if (typeof cs !== 'object' || cs === null || !idsOk(cs.voters) || !idsOk(cs.learners)) return false;
  if (!isU(x.offset) || !isU(x.totalSize) || !isBytes(x.data) || typeof x.done !== 'boolean') return false;
  const end = x.offset + x.data.byteLength;
  if (end > x.totalSize) return false;
  return x.done === (end === x.totalSize);
}

/** isWellFormed checks a message's shape and internal consistency (no state needed). */
export function isWellFormed(m: unknown): m is Message {
  if (typeof m !== 'object' || m === null) return false;
  const x = m as Record<string, unknown>;
  if (typeof x.type !== 'string' || !NETWORK_TYPES.has(x.type)) return false; // local types never travel
  const type = x.type as NetworkMessageType;
  if (!isId(x.from) || !isId(x.to) || x.from === x.to) return false;
  if (!isU(x.term) || !isU(x.logTerm) || !isU(x.index) || !isU(x.commit) || !isU(x.rejectHint)) return false;
  if (typeof x.reject !== 'boolean' || !isBytes(x.context) || !Array.isArray(x.entries)) return false;
  if (TERMED_TYPES.has(type) && x.term === 0) return false;
  const ents = x.entries as unknown[];
  if (type === 'app') {
    if (x.logTerm > x.term) return false;
    let prevTerm = x.logTerm;
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i];
      if (!entryOk(e) || e.index !== x.index + 1 + i || e.term < prevTerm || e.term > x.term) return false;
      prevTerm = e.term;
    }
  } else if (ents.length !== 0) {
    return false;
  }
  if (type === 'snap') {
    if (!chunkOk(x.snapshot, x.term)) return false;
  } else if (x.snapshot !== null && x.snapshot !== undefined) {
    return false;
  }
  if ((type === 'vote' || type === 'preVote') && x.logTerm > x.term) return false;
  if (type === 'transferLeader' && !isId(x.index)) return false;
  return true;
}

/**
 * validateMessage decides whether a message received from the network may be stepped into the node
 * whose configuration is `view`. It returns undefined to accept, or the reason to drop:
 * - malformed:   wrong shape, local-only type, inconsistent fields (see isWellFormed);
 * - misrouted:   addressed to another node;
 * - staleConfig: from a node that was a member of an older configuration (removed), or a vote
 *                request from a node that is only a learner here;
 * - unknownNode: from a node that is in no configuration we know.
 * Two exemptions keep lagging nodes from blocking progress (thesis §4.1: servers process requests
 * without consulting their configuration):
 * - leader-originated catch-up messages (app, heartbeat, snap, timeoutNow): see LEADER_TYPES;
 * - vote requests from a non-voter whose log is at least as up-to-date as ours: it may be a voter in
 *   a configuration we have not received yet. (We could only grant votes to such candidates anyway;
 *   requests from non-voters with older logs, which we would refuse, are dropped.)
 */
export function validateMessage(m: unknown, view: MembershipView): DropReason | undefined {
  if (!isWellFormed(m)) return 'malformed';
  if (m.to !== view.id) return 'misrouted';
  const t = m.type as NetworkMessageType;
  if (LEADER_TYPES.has(t)) return undefined;
  const voteReq = t === 'vote' || t === 'preVote';
  if (voteReq ? view.isVoter(m.from) : view.isMember(m.from)) return undefined;
  if (voteReq && view.logAtLeastAsUpToDate(m.index, m.logTerm)) return undefined;
  return view.wasMember(m.from) ? 'staleConfig' : 'unknownNode';
}
