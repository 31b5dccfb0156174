/**
 * Failed-login limiter: after `freeAttempts` failures for a key, each further attempt must wait an
 * exponentially growing delay (capped). Pure: the caller passes the clock.
 */
export class FailureRateLimiter {
  private readonly failures = new Map<string, { count: number; lastAt: number }>();

  constructor(
    private readonly options: {
      freeAttempts: number;
      baseDelayMs: number;
      maxDelayMs: number;
      forgetAfterMs: number;
    } = {
      freeAttempts: 5,
      baseDelayMs: 1000,
      maxDelayMs: 15 * 60_000,
      forgetAfterMs: 60 * 60_000,
    },
  ) {}

  /** Milliseconds the key must still wait before another attempt; 0 when it may try now. */
  retryAfterMs(key: string, now: number): number {
    const entry = this.failures.get(key);
    if (!entry) return 0;
    if (now - entry.lastAt > this.options.forgetAfterMs) {
      this.failures.delete(key);
      return 0;
    }
    const excess = entry.count - this.options.freeAttempts;
    if (excess < 0) return 0;
    const delay = Math.min(this.options.baseDelayMs * 2 ** excess, this.options.maxDelayMs);
    return Math.max(0, entry.lastAt + delay - now);
  }

  recordFailure(key: string, now: number): void {
    const entry = this.failures.get(key);
    this.failures.set(key, { count: (entry?.count ?? 0) + 1, lastAt: now });
    if (this.failures.size > 100_000) {
      // Bound memory under a spray of usernames: drop the oldest entry.
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }

  recordSuccess(key: string): void {
    this.failures.delete(key);
  }
}
