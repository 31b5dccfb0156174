import { describe, expect, it } from 'vitest';
import { committedIndex, hasQuorum, quorumSize, voteResult } from './majority.js';

describe('majority quorum', () => {
  it('sizes majorities', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(quorumSize)).toEqual([1, 2, 2, 3, 3, 4, 4]);
  });

  it('computes the index replicated on a majority', () => {
    const m = new Map([
      [1, 10],
      [2, 7],
      [3, 5],
      [4, 2],
      [5, 9],
    ]);
    expect(committedIndex([1, 2, 3, 4, 5], (id) => m.get(id))).toBe(7);
    expect(committedIndex([1, 2, 3], (id) => m.get(id))).toBe(7);
    expect(committedIndex([3, 4], (id) => m.get(id))).toBe(2);
    expect(committedIndex([1, 2, 9], (id) => m.get(id))).toBe(7); // 9 unknown counts as 0
    expect(committedIndex([1, 8, 9], (id) => m.get(id))).toBe(0);
    expect(committedIndex([], () => 5)).toBe(0);
  });

  it('tallies votes', () => {
    const v = new Set([1, 2, 3, 4, 5]);
    expect(voteResult(v, new Map([[1, true]]))).toBe('pending');
    expect(
      voteResult(
        v,
        new Map([
          [1, true],
          [2, true],
          [3, true],
        ]),
      ),
    ).toBe('won');
    expect(
      voteResult(
        v,
        new Map([
          [1, false],
          [2, false],
          [3, false],
        ]),
      ),
    ).toBe('lost');
    expect(
      voteResult(
        v,
        new Map([
          [1, true],
          [2, false],
          [3, false],
          [4, true],
        ]),
      ),
    ).toBe('pending');
    expect(
      voteResult(
        v,
        new Map([
          [9, true],
          [8, true],
          [7, true],
        ]),
      ),
    ).toBe('pending'); // non-voters ignored
    expect(voteResult(new Set([1]), new Map([[1, true]]))).toBe('won');
  });

  it('checks quorum membership', () => {
    expect(hasQuorum(new Set([1, 2, 3]), new Set([1, 3]))).toBe(true);
    expect(hasQuorum(new Set([1, 2, 3]), new Set([3, 4, 5]))).toBe(false);
    expect(hasQuorum(new Set(), new Set([1]))).toBe(false);
  });
});
