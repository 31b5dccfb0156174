import { describe, expect, it } from 'vitest';
import {
  applyConfChange,
  bootstrapEntries,
  checkConfChange,
  confStateAfter,
  decodeConfChangeEntry,
  encodeConfChange,
} from './confchange.js';

const cs = { voters: [1, 2, 3], learners: [4] };

describe('single-server membership changes', () => {
  it('validates changes', () => {
    expect(checkConfChange(cs, { type: 'addVoter', nodeId: 4 })).toBeUndefined(); // promotion
    expect(checkConfChange(cs, { type: 'addVoter', nodeId: 5 })).toBeUndefined();
    expect(checkConfChange(cs, { type: 'addVoter', nodeId: 2 })).toMatch(/already a voter/);
    expect(checkConfChange(cs, { type: 'addLearner', nodeId: 2 })).toMatch(/demotion/);
    expect(checkConfChange(cs, { type: 'addLearner', nodeId: 4 })).toMatch(/already a learner/);
    expect(checkConfChange(cs, { type: 'removeNode', nodeId: 9 })).toMatch(/not a member/);
    expect(checkConfChange({ voters: [1], learners: [] }, { type: 'removeNode', nodeId: 1 })).toMatch(
      /last voter/,
    );
    expect(checkConfChange(cs, { type: 'removeNode', nodeId: 0 })).toMatch(/invalid/);
  });

  it('applies changes', () => {
    expect(applyConfChange(cs, { type: 'addVoter', nodeId: 4 })).toEqual({
      voters: [1, 2, 3, 4],
      learners: [],
    });
    expect(applyConfChange(cs, { type: 'removeNode', nodeId: 2 })).toEqual({ voters: [1, 3], learners: [4] });
    expect(applyConfChange(cs, { type: 'addLearner', nodeId: 7 })).toEqual({
      voters: [1, 2, 3],
      learners: [4, 7],
    });
    expect(applyConfChange(cs, { type: 'addVoter', nodeId: 1 })).toBe(cs); // invalid: unchanged
  });

  it('round-trips entries that carry the resulting configuration', () => {
    const data = encodeConfChange({ type: 'addVoter', nodeId: 4 }, { voters: [1, 2, 3, 4], learners: [] });
    expect(decodeConfChangeEntry(data)).toEqual({
      change: { type: 'addVoter', nodeId: 4 },
      confState: { voters: [1, 2, 3, 4], learners: [] },
    });
    // A node that never saw the earlier configuration still ends up with the right one.
    expect(
      confStateAfter({ voters: [], learners: [] }, { index: 9, term: 2, type: 'confChange', data }),
    ).toEqual({ voters: [1, 2, 3, 4], learners: [] });
    expect(decodeConfChangeEntry(new TextEncoder().encode('{"type":"nope","nodeId":1}'))).toBeUndefined();
    expect(decodeConfChangeEntry(new TextEncoder().encode('not json'))).toBeUndefined();
  });

  it('bootstraps a cluster log', () => {
    const ents = bootstrapEntries([1, 2, 3]);
    let c = { voters: [] as number[], learners: [] as number[] } as {
      voters: readonly number[];
      learners: readonly number[];
    };
    for (const e of ents) c = confStateAfter(c, e);
    expect(c).toEqual({ voters: [1, 2, 3], learners: [] });
    expect(ents.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
  });
});
