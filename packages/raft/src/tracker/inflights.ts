import { invariant } from '../errors.js';

/**
 * Inflights bounds the number of append messages in flight to one follower (pipelining window,
 * thesis §10.2.2). Each entry is the last log index carried by a sent message; acknowledging index i
 * frees every message with last index ≤ i. Implemented as a ring buffer.
 */
export class Inflights {
  private start = 0;
  private count = 0;
  private readonly buffer: number[];

  constructor(readonly capacity: number) {
    invariant(capacity > 0, 'inflights capacity must be positive');
    this.buffer = new Array<number>(capacity).fill(0);
  }

  /** add records a sent message whose last entry has `index` (indexes must be increasing). */
  add(index: number): void {
    invariant(!this.full(), 'cannot add into a full inflights');
    this.buffer[(this.start + this.count) % this.capacity] = index;
    this.count++;
  }

  /** freeLE frees all messages whose last index is ≤ `to`. */
  freeLE(to: number): void {
    while (this.count > 0 && (this.buffer[this.start] as number) <= to) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  /** freeFirstOne frees the oldest message (used when a heartbeat response shows the window stuck). */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.start = (this.start + 1) % this.capacity;
    this.count--;
  }

  full(): boolean {
    return this.count === this.capacity;
  }

  size(): number {
    return this.count;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}
