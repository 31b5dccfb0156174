import { describe, expect, it } from 'vitest';
import { isRaftError } from './errors.js';
import { RaftLog } from './log.js';
import { silentLogger } from './logger.js';
import { MemoryStorage } from './storage.js';
import type { Entry } from './types.js';

const ent = (index: number, term: number, d = ''): Entry => ({
  index,
  term,
  type: 'normal',
  data: new TextEncoder().encode(d || `${index}/${term}`),
});
const terms = (l: RaftLog) => l.allEntries().map((e) => e.term);

function logWith(...ts: number[]): RaftLog {
  const st = new MemoryStorage();
  st.append(ts.map((t, i) => ent(i + 1, t)));
  return new RaftLog(st, silentLogger);
}

describe('MemoryStorage', () => {
  it('serves entries, terms and bounds, and reports compaction and unavailability', () => {
    const st = new MemoryStorage();
    st.append([ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 3)]);
    expect(st.firstIndex()).toBe(1);
    expect(st.lastIndex()).toBe(4);
    expect(st.term(3)).toBe(2);
    expect(st.entries(2, 4, Infinity).map((e) => e.index)).toEqual([2, 3]);
    expect(st.entries(2, 5, 1).map((e) => e.index)).toEqual([2]); // size limit keeps one
    st.createSnapshot(2, { voters: [1], learners: [] }, new Uint8Array([7]));
    st.compact(2);
    expect(st.firstIndex()).toBe(3);
    expect(st.term(2)).toBe(1); // the snapshot's term is still known
    expect(() => st.term(1)).toThrow(expect.objectContaining({ code: 'COMPACTED' }));
    expect(() => st.entries(2, 4, Infinity)).toThrow(expect.objectContaining({ code: 'COMPACTED' }));
    expect(() => st.entries(3, 6, Infinity)).toThrow(expect.objectContaining({ code: 'UNAVAILABLE' }));
    st.append([ent(4, 5), ent(5, 5)]); // overwrites the conflicting suffix
    expect(st.allEntries().map((e) => e.term)).toEqual([2, 5, 5]);
    expect(() => st.append([ent(9, 5)])).toThrow(); // gap
    st.applySnapshot({
      metadata: { index: 10, term: 6, confState: { voters: [1], learners: [] } },
      data: new Uint8Array(),
    });
    expect([st.firstIndex(), st.lastIndex()]).toEqual([11, 10]);
    expect(() =>
      st.applySnapshot({
        metadata: { index: 9, term: 6, confState: { voters: [], learners: [] } },
        data: new Uint8Array(),
      }),
    ).toThrow();
  });
});

describe('RaftLog', () => {
  it('appends after the consistency check and truncates conflicts only', () => {
    const l = logWith(1, 1, 2);
    expect(l.maybeAppend(3, 3, 3, [ent(4, 3)])).toBeUndefined(); // prev term mismatch
    expect(l.maybeAppend(5, 2, 3, [])).toBeUndefined(); // prev missing
    const r = l.maybeAppend(2, 1, 2, [ent(3, 2), ent(4, 3)]);
    expect(r?.lastNew).toBe(4);
    expect(r?.appended.map((e) => e.index)).toEqual([4]); // entry 3 was already there
    expect(terms(l)).toEqual([1, 1, 2, 3]);
    expect(l.committed).toBe(2);
    // A stale, shorter append must not truncate entries that match.
    l.maybeAppend(1, 1, 2, [ent(2, 1)]);
    expect(terms(l)).toEqual([1, 1, 2, 3]);
    // A conflicting one does.
    l.maybeAppend(2, 1, 2, [ent(3, 4)]);
    expect(terms(l)).toEqual([1, 1, 4]);
  });

  it('refuses to truncate committed entries', () => {
    const l = logWith(1, 1, 2);
    l.commitTo(3);
    expect(() => l.maybeAppend(1, 1, 3, [ent(2, 5)])).toThrow(/conflicts with committed/);
  });

  it('finds the conflict by term for fast backtracking', () => {
    const l = logWith(1, 1, 1, 4, 4, 5, 5, 6, 6, 6);
    expect(l.findConflictByTerm(10, 3)).toBe(3);
    expect(l.findConflictByTerm(10, 6)).toBe(10);
    expect(l.findConflictByTerm(7, 4)).toBe(5);
    expect(l.findConflictByTerm(12, 0)).toBe(0);
  });

  it('compares up-to-dateness by last term, then length', () => {
    const l = logWith(1, 2, 2);
    expect(l.isUpToDate(3, 2)).toBe(true);
    expect(l.isUpToDate(2, 2)).toBe(false);
    expect(l.isUpToDate(1, 3)).toBe(true);
    expect(l.isUpToDate(9, 1)).toBe(false);
  });

  it('tracks unstable entries and marks them stable only if unchanged', () => {
    const st = new MemoryStorage();
    const l = new RaftLog(st, silentLogger);
    l.append([ent(1, 1), ent(2, 1)]);
    expect(l.unstableEntries().length).toBe(2);
    const rd = l.unstableEntries();
    l.append([ent(2, 2)]); // replaced before the Ready was acknowledged
    st.append(rd);
    l.stableTo(2, 1); // term mismatch: nothing is marked stable (re-persisting entry 1 is harmless)
    expect(l.unstableEntries().map((e) => e.term)).toEqual([1, 2]);
    st.append(l.unstableEntries());
    l.stableTo(2, 2);
    expect(l.unstableEntries()).toEqual([]);
    expect(terms(l)).toEqual([1, 2]);
  });

  it('hands out committed entries once, and none while a snapshot is pending', () => {
    const l = logWith(1, 1, 1);
    l.commitTo(2);
    expect(l.nextCommittedEnts().map((e) => e.index)).toEqual([1, 2]);
    l.appliedTo(2);
    expect(l.hasNextCommittedEnts()).toBe(false);
    l.restore({
      metadata: { index: 10, term: 3, confState: { voters: [1], learners: [] } },
      data: new Uint8Array(),
    });
    expect(l.committed).toBe(10);
    expect(l.hasNextCommittedEnts()).toBe(false);
    expect(l.firstIndex()).toBe(11);
    expect(l.term(10)).toBe(3);
    try {
      l.term(5);
    } catch (e) {
      expect(isRaftError(e, 'COMPACTED')).toBe(true);
    }
  });
});
