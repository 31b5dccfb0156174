import { describe, expect, it } from 'vitest';
import { RawNode } from './rawNode.js';
import { MemoryStorage } from './storage.js';
import { message } from './types.js';

const enc = new TextEncoder();

function storage(voters: number[]): MemoryStorage {
  return new MemoryStorage({
    metadata: { index: 0, term: 0, confState: { voters, learners: [] } },
    data: new Uint8Array(),
  });
}

/** persist does step 1 of the Ready contract. */
function persist(st: MemoryStorage, rd: ReturnType<RawNode['ready']>): void {
  if (rd.snapshot) st.applySnapshot(rd.snapshot);
  st.append(rd.entries);
  if (rd.hardState) st.setHardState(rd.hardState);
}

describe('RawNode Ready/Advance contract', () => {
  it('hands out a vote together with the hard state that records it, and requires a sync', () => {
    const st = storage([1, 2, 3]);
    const n = new RawNode({ id: 1, storage: st, electionTick: 10, heartbeatTick: 1, preVote: false });
    n.campaign();
    const rd = n.ready();
    expect(rd.hardState).toEqual({ term: 1, vote: 1, commit: 0 });
    expect(rd.messages.map((m) => m.type)).toEqual(['vote', 'vote']);
    expect(rd.mustSync).toBe(true);
    expect(() => n.ready()).toThrow(/before advance/);
    persist(st, rd);
    n.advance();
    expect(n.hasReady()).toBe(false);
  });

  it('does not require a sync when only the commit index moved', () => {
    const st = storage([1]);
    const n = new RawNode({ id: 1, storage: st, electionTick: 10, heartbeatTick: 1 });
    n.campaign();
    let rd = n.ready();
    expect(rd.softState?.state).toBe('leader');
    expect(rd.entries.length).toBe(1); // the leader's empty entry
    expect(rd.committedEntries.length).toBe(1); // single voter: committed at once, applied after persisting
    persist(st, rd);
    n.advance();
    const p = n.propose(enc.encode('x'));
    expect(p).toMatchObject({ accepted: true, index: 2, term: 1 });
    rd = n.ready();
    expect(rd.mustSync).toBe(true);
    expect(rd.committedEntries.map((e) => new TextDecoder().decode(e.data))).toEqual(['x']);
    persist(st, rd);
    n.advance();
    // A follower learning a higher commit index only: no fsync needed.
    const st2 = storage([1, 2]);
    const f = new RawNode({ id: 2, storage: st2, electionTick: 10, heartbeatTick: 1 });
    f.step(
      message({
        type: 'app',
        from: 1,
        to: 2,
        term: 1,
        index: 0,
        logTerm: 0,
        entries: st.allEntries(),
        commit: 0,
      }),
    );
    let frd = f.ready();
    persist(st2, frd);
    f.advance();
    f.step(message({ type: 'heartbeat', from: 1, to: 2, term: 1, commit: 2 }));
    frd = f.ready();
    expect(frd.hardState?.commit).toBe(2);
    expect(frd.mustSync).toBe(false);
    expect(frd.committedEntries.length).toBe(2);
  });

  it('remembers its vote across a restart (no second vote in the same term)', () => {
    const st = storage([1, 2, 3]);
    let n = new RawNode({
      id: 3,
      storage: st,
      electionTick: 10,
      heartbeatTick: 1,
      preVote: false,
      checkQuorum: false,
    });
    n.step(message({ type: 'vote', from: 1, to: 3, term: 5, index: 0, logTerm: 0 }));
    let rd = n.ready();
    expect(rd.messages[0]).toMatchObject({ type: 'voteResp', reject: false, to: 1 });
    persist(st, rd);
    n.advance();
    n = new RawNode({
      id: 3,
      storage: st,
      electionTick: 10,
      heartbeatTick: 1,
      preVote: false,
      checkQuorum: false,
    });
    n.step(message({ type: 'vote', from: 2, to: 3, term: 5, index: 0, logTerm: 0 }));
    rd = n.ready();
    expect(rd.messages[0]).toMatchObject({ type: 'voteResp', reject: true, to: 2 });
  });

  it('answers ReadIndex on a single-voter cluster once its term has a committed entry', () => {
    const st = storage([1]);
    const n = new RawNode({ id: 1, storage: st, electionTick: 10, heartbeatTick: 1 });
    n.campaign();
    n.readIndex(enc.encode('r'));
    const rd = n.ready();
    expect(rd.readStates).toEqual([{ index: 1, context: enc.encode('r') }]);
  });

  it('drops and counts bad input', () => {
    const n = new RawNode({ id: 1, storage: storage([1, 2, 3]), electionTick: 10, heartbeatTick: 1 });
    expect(n.step({ type: 'app' })).toBe('malformed');
    expect(n.step(message({ type: 'hup', from: 2, to: 1, term: 1 }))).toBe('malformed');
    expect(n.step(message({ type: 'voteResp', from: 8, to: 1, term: 1 }))).toBe('unknownNode');
    expect(n.step(message({ type: 'voteResp', from: 2, to: 5, term: 1 }))).toBe('misrouted');
    expect(n.stats.dropped).toEqual({ malformed: 2, misrouted: 1, unknownNode: 1, staleConfig: 0 });
    expect(n.status().term).toBe(0);
  });

  it('rejects invalid configuration', () => {
    expect(() => new RawNode({ id: 0, storage: storage([1]), electionTick: 10, heartbeatTick: 1 })).toThrow();
    expect(() => new RawNode({ id: 1, storage: storage([1]), electionTick: 1, heartbeatTick: 1 })).toThrow();
  });
});
