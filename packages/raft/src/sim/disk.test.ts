import { describe, expect, it } from 'vitest';
import { SimDisk } from './disk.js';
import { Rng } from './prng.js';

const ent = (index: number, term: number) => ({
  index,
  term,
  type: 'normal' as const,
  data: new Uint8Array(),
});

describe('simulated disk', () => {
  it('keeps synced records and a prefix of unsynced ones across crashes', () => {
    const rng = new Rng(7);
    const kept = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const d = new SimDisk();
      d.write({ kind: 'entries', entries: [ent(1, 1), ent(2, 1)] });
      d.write({ kind: 'hardState', hs: { term: 1, vote: 1, commit: 2 } });
      d.sync();
      d.write({ kind: 'entries', entries: [ent(3, 1)] });
      d.write({ kind: 'entries', entries: [ent(4, 1)] });
      d.write({ kind: 'hardState', hs: { term: 2, vote: 0, commit: 4 } });
      d.crash(rng);
      const st = d.recover();
      expect(st.lastIndex()).toBeGreaterThanOrEqual(2); // synced data survives
      expect(st.initialState().hardState.term).toBeLessThanOrEqual(2);
      if (st.initialState().hardState.term === 2) expect(st.lastIndex()).toBe(4); // prefix-closed
      kept.add(d.recordCount());
    }
    expect([...kept].sort()).toEqual([2, 3, 4, 5]); // every prefix length occurs, torn or not
  });

  it('replays snapshots and compaction', () => {
    const d = new SimDisk();
    d.write({ kind: 'entries', entries: [ent(1, 1), ent(2, 1), ent(3, 2)] });
    d.write({
      kind: 'appSnapshot',
      index: 2,
      confState: { voters: [1], learners: [] },
      data: new Uint8Array([1]),
      compactIndex: 1,
    });
    d.sync();
    let st = d.recover();
    expect([st.firstIndex(), st.lastIndex(), st.snapshot().metadata.index]).toEqual([2, 3, 2]);
    d.write({
      kind: 'recvSnapshot',
      snap: {
        metadata: { index: 9, term: 3, confState: { voters: [1], learners: [] } },
        data: new Uint8Array(),
      },
    });
    d.sync();
    st = d.recover();
    expect([st.firstIndex(), st.lastIndex()]).toEqual([10, 9]);
  });
});
