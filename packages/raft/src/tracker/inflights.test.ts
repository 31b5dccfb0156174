import { describe, expect, it } from 'vitest';
import { Inflights } from './inflights.js';
import { Progress } from './progress.js';

describe('inflights', () => {
  it('bounds the window and frees by acknowledged index, wrapping around', () => {
    const f = new Inflights(3);
    f.add(5);
    f.add(7);
    f.add(9);
    expect(f.full()).toBe(true);
    expect(() => f.add(10)).toThrow();
    f.freeLE(6);
    expect(f.size()).toBe(2);
    f.add(11); // wraps around the ring
    expect(f.full()).toBe(true);
    expect(() => f.add(12)).toThrow();
    f.freeLE(11);
    expect(f.size()).toBe(0);
  });

  it('frees the first one and resets', () => {
    const f = new Inflights(2);
    f.add(1);
    f.add(2);
    f.freeFirstOne();
    expect(f.size()).toBe(1);
    f.freeLE(100);
    expect(f.size()).toBe(0);
    f.add(3);
    f.reset();
    expect(f.size()).toBe(0);
  });
});

describe('progress', () => {
  it('probes one message at a time and backs off on rejection', () => {
    const p = new Progress(11, 4, false);
    expect(p.isPaused()).toBe(false);
    p.sentEntries(12, 2);
    expect(p.isPaused()).toBe(true);
    expect(p.maybeDecrTo(9, 5)).toBe(false); // not the probe we sent (prev was 10)
    expect(p.maybeDecrTo(10, 5)).toBe(true);
    expect(p.next).toBe(6);
    expect(p.isPaused()).toBe(false);
  });

  it('pipelines in replicate state and ignores stale rejections', () => {
    const p = new Progress(1, 2, false);
    p.maybeUpdate(5);
    p.becomeReplicate();
    expect(p.next).toBe(6);
    p.sentEntries(8, 3);
    p.sentEntries(10, 2);
    expect(p.next).toBe(11);
    expect(p.isPaused()).toBe(true);
    p.maybeUpdate(8);
    p.inflights.freeLE(8);
    expect(p.isPaused()).toBe(false);
    expect(p.maybeDecrTo(7, 0)).toBe(false); // ≤ match: stale
    expect(p.maybeDecrTo(10, 0)).toBe(true);
    expect(p.next).toBe(9);
  });

  it('pauses appends while a snapshot is in flight', () => {
    const p = new Progress(1, 2, false);
    p.becomeSnapshot({
      metadata: { index: 40, term: 3, confState: { voters: [1], learners: [] } },
      data: new Uint8Array(10),
    });
    expect(p.isPaused()).toBe(true);
    expect(p.pendingSnapshot).toBe(40);
    expect(p.maybeDecrTo(0, 0)).toBe(false);
  });
});
