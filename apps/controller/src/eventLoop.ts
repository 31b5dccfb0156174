import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * The longest event-loop stall of the last minute, for the status report: a controller whose loop
 * stalls misses heartbeats and elections, so operators (and bench:raft) need to see it.
 */
export class EventLoopWatch {
  private readonly histogram = monitorEventLoopDelay({ resolution: 10 });
  /** Max delay (ns) of each of the last 60 one-second buckets. */
  private readonly buckets: number[] = [];
  private timer: NodeJS.Timeout | undefined;

  start(): void {
    if (this.timer) return;
    this.histogram.enable();
    this.timer = setInterval(() => {
      this.buckets.push(this.histogram.max);
      if (this.buckets.length > 60) this.buckets.shift();
      this.histogram.reset();
    }, 1000);
    this.timer.unref();
  }

  /** Longest stall in milliseconds over the last 60 s (including the current second). */
  maxMs(): number {
    return Math.max(0, ...this.perSecondMs());
  }

  /** Longest stall of each of the last 60 seconds, oldest first, the current second last. */
  perSecondMs(): number[] {
    if (!this.timer) return [];
    return [...this.buckets, this.histogram.max].map(stallMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }
}

/** The histogram measures lateness of its own 10 ms timer in ns; report the stall beyond that period. */
function stallMs(ns: number): number {
  return Math.max(0, Math.round((ns / 1e6 - 10) * 10) / 10);
}
