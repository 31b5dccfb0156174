import { errCompacted, errUnavailable, invariant, isRaftError } from './errors.js';
import type { Logger } from './logger.js';
import { Unstable } from './logUnstable.js';
import { limitSize, type Storage } from './storage.js';
import { type Entry, entrySize, type Snapshot } from './types.js';

/**
 * RaftLog is the node's view of its log: the stable part in Storage followed by the Unstable part.
 * `committed` is the highest index known to be committed; `applied` the highest index the caller has
 * applied (applied ≤ committed ≤ lastIndex).
 */
export class RaftLog {
  readonly unstable: Unstable;
  committed: number;
  applied: number;

  constructor(
    readonly storage: Storage,
    readonly logger: Logger,
    readonly maxApplyingSize = Number.MAX_SAFE_INTEGER,
  ) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** term returns the term of entry i, throwing errCompacted / errUnavailable outside the log. */
  term(i: number): number {
    const dummy = this.firstIndex() - 1;
    if (i < dummy) throw errCompacted();
    if (i > this.lastIndex()) throw errUnavailable();
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    return this.storage.term(i);
  }

  /** termOr returns the term of entry i, or `dflt` when it is compacted or unavailable. */
  termOr(i: number, dflt: number): number {
    try {
      return this.term(i);
    } catch (e) {
      if (isRaftError(e, 'COMPACTED') || isRaftError(e, 'UNAVAILABLE')) return dflt;
      throw e;
    }
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  matchTerm(i: number, t: number): boolean {
    return this.termOr(i, -1) === t;
  }

  /** isUpToDate: is a log ending at (lasti, term) at least as up-to-date as ours (paper §5.4.1)? */
  isUpToDate(lasti: number, term: number): boolean {
    const lt = this.lastTerm();
    return term > lt || (term === lt && lasti >= this.lastIndex());
  }

  /**
   * findConflict returns the index of the first entry of `ents` that is missing from, or conflicts
   * with, our log; 0 if all of them are already present.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * findConflictByTerm returns the largest index ≤ `index` whose term is ≤ `term` (or the first index
   * we cannot look at). Used on both sides of a rejected append to skip a whole term at a time.
   */
  findConflictByTerm(index: number, term: number): number {
    for (let i = Math.min(index, this.lastIndex()); ; i--) {
      const t = this.termOr(i, -1);
      if (t < 0 || t <= term || i === 0) return i;
    }
  }

  /**
   * maybeAppend handles an AppendEntries request whose previous entry is (index, logTerm). It returns
   * the index of the last new entry and the entries actually written (from the first conflict on),
   * or undefined when our log does not contain the previous entry (the paper's consistency check).
   */
  maybeAppend(
    index: number,
    logTerm: number,
    committed: number,
    ents: readonly Entry[],
  ): { lastNew: number; appended: readonly Entry[] } | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    let appended: readonly Entry[] = [];
    if (ci !== 0) {
      invariant(
        ci > this.committed,
        `entry ${ci} conflicts with committed entry [committed(${this.committed})]`,
      );
      appended = ents.slice(ci - index - 1);
      this.append(appended);
    }
    this.commitTo(Math.min(committed, lastNew));
    return { lastNew, appended };
  }

  /** append adds entries to the unstable log (truncating a conflicting suffix); returns lastIndex. */
  append(ents: readonly Entry[]): number {
    const first = ents[0];
    if (!first) return this.lastIndex();
    invariant(
      first.index - 1 >= this.committed,
      `after(${first.index - 1}) is out of range [committed(${this.committed})]`,
    );
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries.slice();
  }

  /** nextCommittedEnts returns committed, not yet applied entries (bounded by maxApplyingSize). */
  nextCommittedEnts(): Entry[] {
    if (this.unstable.snapshot) return []; // apply the snapshot first
    const lo = Math.max(this.applied + 1, this.firstIndex());
    const hi = this.committed + 1;
    if (lo >= hi) return [];
    return this.slice(lo, hi, this.maxApplyingSize);
  }

  hasNextCommittedEnts(): boolean {
    if (this.unstable.snapshot) return false;
    return this.committed > Math.max(this.applied, this.firstIndex() - 1);
  }

  /** snapshot returns the latest snapshot: a pending (unstable) one, or the storage's. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  commitTo(c: number): void {
    if (c > this.committed) {
      invariant(c <= this.lastIndex(), `tocommit(${c}) is out of range [lastIndex(${this.lastIndex()})]`);
      this.committed = c;
    }
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    invariant(
      i <= this.committed && i >= this.applied,
      `applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`,
    );
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  /** restore replaces the log with a snapshot (the follower side of InstallSnapshot). */
  restore(s: Snapshot): void {
    this.logger.info(
      `log [committed=${this.committed}, applied=${this.applied}] starts to restore snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`,
    );
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /** entries returns entries from index i to the end, limited to maxSize bytes (at least one). */
  entries(i: number, maxSize: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxSize);
  }

  /** slice returns entries [lo, hi), at most maxSize bytes but at least one entry. */
  slice(lo: number, hi: number, maxSize: number): Entry[] {
    if (lo === hi) return [];
    const fi = this.firstIndex();
    if (lo < fi) throw errCompacted();
    invariant(
      hi <= this.lastIndex() + 1 && lo <= hi,
      `slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`,
    );
    let ents: Entry[] = [];
    const uoff = this.unstable.offset;
    if (lo < uoff) {
      ents = this.storage.entries(lo, Math.min(hi, uoff), maxSize);
      if (ents.length < Math.min(hi, uoff) - lo) return ents; // size-limited
    }
    if (hi > uoff) {
      const u = this.unstable.slice(Math.max(lo, uoff), hi);
      ents = ents.length > 0 ? ents.concat(u) : u;
    }
    return limitSize(ents, maxSize);
  }

  /** allEntries returns every entry after the first index (tests). */
  allEntries(): Entry[] {
    return this.entries(this.firstIndex(), Number.MAX_SAFE_INTEGER);
  }

  /** sizeOf sums entrySize over ents. */
  static sizeOf(ents: readonly Entry[]): number {
    let n = 0;
    for (const e of ents) n += entrySize(e);
    return n;
  }
}
