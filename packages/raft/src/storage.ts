import { errCompacted, errSnapOutOfDate, errUnavailable, invariant } from './errors.js';
import {
  type ConfState,
  EMPTY_CONF_STATE,
  EMPTY_HARD_STATE,
  type Entry,
  entrySize,
  type HardState,
  type Snapshot,
} from './types.js';

/**
 * Storage is the read side of a node's stable storage, as seen by the core. The core never writes to
 * it: the caller persists what Ready hands out (see rawNode.ts) and then calls RawNode.advance().
 *
 * Contract:
 * - Indexes: the log is the suffix after the latest snapshot. `firstIndex()` is the index of the first
 *   entry still present (snapshot index + 1), `lastIndex()` the last one (= snapshot index when the log
 *   is empty). `term(snapshotIndex)` must still answer (with the snapshot's term).
 * - `entries(lo, hi, maxSize)` returns entries [lo, hi), at least one entry if any are in range, and
 *   stops before exceeding `maxSize` bytes (as counted by `entrySize`). Returned arrays belong to the
 *   caller; the Entry objects in them are immutable and may be shared.
 * - Errors: throw `errCompacted()` when an index precedes firstIndex()-1, `errUnavailable()` when it
 *   is past lastIndex(), and `errSnapshotTemporarilyUnavailable()` from `snapshot()` while a snapshot
 *   is being produced. Any other thrown error makes the node inoperable: stop it.
 * - `initialState()` returns the persisted HardState and the ConfState of the latest snapshot. The
 *   core derives the current configuration by replaying `confChange` entries after that snapshot, so
 *   storage must keep them (it does, as they are ordinary log entries).
 * - Everything returned must be durable (fsynced): the core reasons about it as if it survives a crash.
 */
export interface Storage {
  initialState(): { hardState: HardState; confState: ConfState };
  entries(lo: number, hi: number, maxSize: number): Entry[];
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

/** limitSize trims `ents` to the longest prefix within maxSize bytes, keeping at least one entry. */
export function limitSize<T extends Entry>(ents: T[], maxSize: number): T[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0] as T);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n] as T);
    if (size > maxSize) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

/**
 * MemoryStorage is a Storage backed by arrays. It doubles as the write-side model a WAL
 * implementation must provide: setHardState, append (which truncates a conflicting suffix),
 * applySnapshot (replace everything), createSnapshot + compact (log compaction by the application).
 * Index 0 of `ents` is a dummy entry holding the snapshot's index and term.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot;
  private ents: Entry[];

  constructor(snapshot?: Snapshot) {
    this.snap = snapshot ?? {
      metadata: { index: 0, term: 0, confState: EMPTY_CONF_STATE },
      data: new Uint8Array(0),
    };
    this.ents = [this.dummy(this.snap.metadata.index, this.snap.metadata.term)];
  }

  private dummy(index: number, term: number): Entry {
    return { index, term, type: 'normal', data: new Uint8Array(0) };
  }

  private get offset(): number {
    return (this.ents[0] as Entry).index;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  hardStateNow(): HardState {
    return this.hardState;
  }

  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const offset = this.offset;
    if (lo <= offset) throw errCompacted();
    if (hi > this.lastIndex() + 1)
      throw errUnavailable(`entries' hi(${hi}) is out of bound lastIndex(${this.lastIndex()})`);
    if (lo >= hi) return [];
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSize);
  }

  term(index: number): number {
    const offset = this.offset;
    if (index < offset) throw errCompacted();
    if (index - offset >= this.ents.length) throw errUnavailable();
    return (this.ents[index - offset] as Entry).term;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** allEntries returns the stored log suffix (tests and tooling). */
  allEntries(): Entry[] {
    return this.ents.slice(1);
  }

  /** applySnapshot replaces the whole storage with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index <= this.snap.metadata.index) throw errSnapOutOfDate();
    this.snap = snap;
    this.ents = [this.dummy(snap.metadata.index, snap.metadata.term)];
  }

  /**
   * createSnapshot records an application snapshot at `index` (which must be ≤ the applied index and
   * thus present in the log). Entries are kept; call compact() to drop them.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) throw errSnapOutOfDate();
    invariant(index <= this.lastIndex(), `snapshot ${index} is out of bound lastindex(${this.lastIndex()})`);
    this.snap = { metadata: { index, term: this.term(index), confState }, data };
    return this.snap;
  }

  /** compact discards entries up to and including `compactIndex`. */
  compact(compactIndex: number): void {
    const offset = this.offset;
    if (compactIndex <= offset) throw errCompacted();
    invariant(
      compactIndex <= this.lastIndex(),
      `compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`,
    );
    const i = compactIndex - offset;
    const first = this.ents[i] as Entry;
    this.ents = [this.dummy(first.index, first.term), ...this.ents.slice(i + 1)];
  }

  /**
   * append adds entries, first discarding any stored entries at or after the first new index (they
   * conflict with the new ones by construction of the Ready contract).
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = (entries[entries.length - 1] as Entry).index;
    if (last < first) return; // all compacted already
    let ents = entries as Entry[];
    if (first > (ents[0] as Entry).index) ents = ents.slice(first - (ents[0] as Entry).index);
    const at = (ents[0] as Entry).index - this.offset;
    invariant(
      at <= this.ents.length,
      `missing log entry [last: ${this.lastIndex()}, append at: ${(ents[0] as Entry).index}]`,
    );
    this.ents = this.ents.slice(0, at).concat(ents);
  }
}
