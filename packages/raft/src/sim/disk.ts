import { MemoryStorage } from '../storage.js';
import type { ConfState, Entry, HardState, Snapshot } from '../types.js';
import type { Rng } from './prng.js';

/** DiskRecord is one write to a node's simulated write-ahead log. */
export type DiskRecord =
  | { readonly kind: 'hardState'; readonly hs: HardState }
  | { readonly kind: 'entries'; readonly entries: readonly Entry[] }
  | { readonly kind: 'recvSnapshot'; readonly snap: Snapshot }
  | {
      readonly kind: 'appSnapshot';
      readonly index: number;
      readonly confState: ConfState;
      readonly data: Uint8Array;
      readonly compactIndex: number;
    };

/**
 * SimDisk models a node's disk as an append-only record log with an fsync watermark — the shape a
 * WAL gives. On a crash, synced records survive; of the unsynced tail, a random prefix survives and
 * the last surviving record may be torn (its checksum fails on recovery, so it is dropped). Recovery
 * replays the surviving records into a fresh MemoryStorage.
 */
export class SimDisk {
  private records: DiskRecord[] = [];
  private synced = 0;
  lostRecords = 0;
  tornRecords = 0;

  write(r: DiskRecord): void {
    this.records.push(r);
  }

  sync(): void {
    this.synced = this.records.length;
  }

  unsynced(): number {
    return this.records.length - this.synced;
  }

  /** crash drops unsynced writes as described above. */
  crash(rng: Rng): void {
    const unsynced = this.records.length - this.synced;
    let keep = rng.int(unsynced + 1);
    if (keep > 0 && rng.chance(0.5)) {
      keep--; // the last one made it only partially: torn, detected and dropped at recovery
      this.tornRecords++;
    }
    this.lostRecords += unsynced - keep;
    this.records = this.records.slice(0, this.synced + keep);
    this.synced = this.records.length;
  }

  /** recover rebuilds the storage from the surviving records. */
  recover(): MemoryStorage {
    const st = new MemoryStorage();
    for (const r of this.records) {
      switch (r.kind) {
        case 'hardState':
          st.setHardState(r.hs);
          break;
        case 'entries':
          st.append(r.entries);
          break;
        case 'recvSnapshot':
          st.applySnapshot(r.snap);
          break;
        case 'appSnapshot':
          st.createSnapshot(r.index, r.confState, r.data);
          st.compact(r.compactIndex);
          break;
      }
    }
    return st;
  }

  recordCount(): number {
    return this.records.length;
  }
}
