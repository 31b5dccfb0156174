import { bytesKey, type Message, type NodeId } from './types.js';

/** ReadRequest is a ReadIndex request waiting for a quorum to confirm the leader's leadership. */
export interface ReadRequest {
  readonly key: string;
  /** The leader's commit index when the request arrived: the read index. */
  readonly index: number;
  /** The original request (from = requester, NONE or the leader itself for local requests). */
  readonly req: Message;
  readonly acks: Set<NodeId>;
}

/**
 * ReadOnly queues ReadIndex requests (thesis §6.4). Each request is keyed by its context and confirmed
 * by heartbeat responses echoing that context; confirming a request confirms every request queued
 * before it, since their heartbeats went out no later.
 */
export class ReadOnly {
  private queue: ReadRequest[] = [];
  private readonly byKey = new Map<string, ReadRequest>();

  /** add queues a request; a duplicate context is ignored (returns false). */
  add(index: number, req: Message): boolean {
    const key = bytesKey(req.context);
    if (this.byKey.has(key)) return false;
    const r: ReadRequest = { key, index, req, acks: new Set() };
    this.queue.push(r);
    this.byKey.set(key, r);
    return true;
  }

  /** recvAck records that `from` acknowledged the heartbeat carrying `context`; returns its acks. */
  recvAck(from: NodeId, context: Uint8Array): Set<NodeId> | undefined {
    const r = this.byKey.get(bytesKey(context));
    if (!r) return undefined;
    r.acks.add(from);
    return r.acks;
  }

  /** advance dequeues and returns every request up to and including the one with `context`. */
  advance(context: Uint8Array): ReadRequest[] {
    const key = bytesKey(context);
    const i = this.queue.findIndex((r) => r.key === key);
    if (i < 0) return [];
    const out = this.queue.slice(0, i + 1);
    this.queue = this.queue.slice(i + 1);
    for (const r of out) this.byKey.delete(r.key);
    return out;
  }

  /** lastPendingContext is the context of the newest pending request, to piggyback on heartbeats. */
  lastPendingContext(): Uint8Array | undefined {
    return this.queue[this.queue.length - 1]?.req.context;
  }

  pending(): number {
    return this.queue.length;
  }

  reset(): void {
    this.queue = [];
    this.byKey.clear();
  }
}
