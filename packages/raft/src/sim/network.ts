import type { Message, NodeId } from '../types.js';
import type { Rng } from './prng.js';

/** NetworkFaults are the knobs of the simulated network; the simulation changes them over time. */
export interface NetworkFaults {
  /** Probability that a message is lost. */
  loss: number;
  /** Probability that a message is delivered twice. */
  duplicate: number;
  /** Normal delay in ticks is uniform in [0, maxDelay]; different delays reorder messages. */
  maxDelay: number;
  /** Probability of a long delay (a message overtaken by many later ones). */
  longDelay: number;
  /** Long delays are uniform in [maxDelay, longDelayMax]. */
  longDelayMax: number;
  /**
   * Probability that a message overtakes up to 20 messages due at the same tick. Otherwise messages
   * due at the same tick arrive in the order they were sent (reordering then comes from delays).
   */
  reorder: number;
}

export const CALM: NetworkFaults = {
  loss: 0,
  duplicate: 0,
  maxDelay: 1,
  longDelay: 0,
  longDelayMax: 1,
  reorder: 0,
};

interface InFlight {
  readonly at: number;
  readonly order: number;
  readonly m: Message;
}

/**
 * SimNetwork delivers messages after a random delay, dropping, duplicating and reordering them as
 * the current faults say. Links can be cut one direction at a time (asymmetric partitions); a cut
 * link drops messages both when sent and when due (packets in flight are lost too).
 */
export class SimNetwork {
  faults: NetworkFaults = CALM;
  private readonly cut = new Set<string>();
  private heap: InFlight[] = [];
  private seq = 0;
  sent = 0;
  dropped = 0;
  duplicated = 0;

  constructor(private readonly rng: Rng) {}

  private static link(from: NodeId, to: NodeId): string {
    return `${from}>${to}`;
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(SimNetwork.link(from, to));
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.has(SimNetwork.link(from, to));
  }

  /** partition splits nodes into groups that cannot talk to each other (both directions). */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (const a of groups)
      for (const b of groups) {
        if (a === b) continue;
        for (const x of a) for (const y of b) this.cutLink(x, y);
      }
  }

  heal(): void {
    this.cut.clear();
  }

  cutCount(): number {
    return this.cut.size;
  }

  send(m: Message, now: number): void {
    this.sent++;
    if (this.isCut(m.from, m.to) || this.rng.chance(this.faults.loss)) {
      this.dropped++;
      return;
    }
    const copies = this.rng.chance(this.faults.duplicate) ? 2 : 1;
    if (copies === 2) this.duplicated++;
    for (let i = 0; i < copies; i++) {
      const f = this.faults;
      const delay = this.rng.chance(f.longDelay)
        ? this.rng.range(f.maxDelay, f.longDelayMax)
        : this.rng.range(0, f.maxDelay);
      this.seq++;
      const order = this.rng.chance(f.reorder) ? this.seq - this.rng.range(1, 20) - 0.5 : this.seq;
      this.push({ at: now + delay, order, m });
    }
  }

  /** inject puts an arbitrary message (e.g. garbage) on the wire, bypassing faults. */
  inject(m: Message, at: number): void {
    this.push({ at, order: ++this.seq, m });
  }

  /** nextDue pops the next message due at or before `now` (undefined if none). */
  nextDue(now: number): Message | undefined {
    for (;;) {
      const top = this.heap[0];
      if (!top || top.at > now) return undefined;
      this.pop();
      if (this.isCut(top.m.from, top.m.to)) {
        this.dropped++;
        continue;
      }
      return top.m;
    }
  }

  inFlight(): number {
    return this.heap.length;
  }

  // Binary min-heap on (at, order).
  private less(a: InFlight, b: InFlight): boolean {
    return a.at < b.at || (a.at === b.at && a.order < b.order);
  }

  private push(x: InFlight): void {
    const h = this.heap;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i] as InFlight, h[p] as InFlight)) break;
      [h[i], h[p]] = [h[p] as InFlight, h[i] as InFlight];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop() as InFlight;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l] as InFlight, h[m] as InFlight)) m = l;
      if (r < h.length && this.less(h[r] as InFlight, h[m] as InFlight)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m] as InFlight, h[i] as InFlight];
      i = m;
    }
  }
}
