import { describe, expect, it } from 'vitest';
import { message } from './types.js';
import { isWellFormed, type MembershipView, validateMessage } from './validate.js';

const view: MembershipView = {
  id: 1,
  isVoter: (id) => [1, 2, 3].includes(id),
  isMember: (id) => [1, 2, 3, 4].includes(id),
  wasMember: (id) => [1, 2, 3, 4, 5].includes(id),
  logAtLeastAsUpToDate: (index, term) => term > 3 || (term === 3 && index >= 10),
};
const e = (index: number, term: number) => ({ index, term, type: 'normal' as const, data: new Uint8Array() });

describe('validateMessage', () => {
  it('accepts well-formed traffic from members', () => {
    expect(
      validateMessage(message({ type: 'appResp', from: 2, to: 1, term: 3, index: 4 }), view),
    ).toBeUndefined();
    expect(
      validateMessage(
        message({ type: 'app', from: 2, to: 1, term: 3, index: 4, logTerm: 2, entries: [e(5, 2), e(6, 3)] }),
        view,
      ),
    ).toBeUndefined();
    expect(
      validateMessage(message({ type: 'heartbeatResp', from: 4, to: 1, term: 3 }), view),
    ).toBeUndefined();
  });

  it('drops malformed messages', () => {
    const ok = message({ type: 'app', from: 2, to: 1, term: 3, index: 4, logTerm: 2, entries: [e(5, 2)] });
    const bad: unknown[] = [
      null,
      42,
      { ...ok, type: 'nope' },
      { ...ok, type: 'hup' }, // local-only
      { ...ok, term: -1 },
      { ...ok, term: 1.5 },
      { ...ok, from: 0 },
      { ...ok, from: 1 }, // from itself
      { ...ok, context: 'x' },
      { ...ok, entries: [e(6, 2)] }, // not contiguous with index
      { ...ok, entries: [e(5, 4)] }, // entry term above message term
      { ...ok, entries: [e(5, 1)] }, // entry term below prevLogTerm
      { ...ok, logTerm: 9 },
      { ...ok, type: 'heartbeat' }, // entries on a non-append
      message({ type: 'vote', from: 2, to: 1, term: 0 }), // vote without a term
      message({ type: 'snap', from: 2, to: 1, term: 3 }), // no chunk
      message({
        type: 'snap',
        from: 2,
        to: 1,
        term: 3,
        snapshot: {
          metadata: { index: 5, term: 2, confState: { voters: [1], learners: [] } },
          offset: 4,
          totalSize: 5,
          data: new Uint8Array(2),
          done: true,
        },
      }), // chunk past the end
      message({ type: 'transferLeader', from: 2, to: 1, term: 3, index: 0 }),
    ];
    for (const m of bad) expect(validateMessage(m, view), JSON.stringify(m)).toBe('malformed');
    expect(isWellFormed(ok)).toBe(true);
  });

  it('drops misrouted messages and messages from unknown or removed nodes', () => {
    expect(validateMessage(message({ type: 'appResp', from: 2, to: 7, term: 3 }), view)).toBe('misrouted');
    expect(validateMessage(message({ type: 'appResp', from: 9, to: 1, term: 3 }), view)).toBe('unknownNode');
    expect(validateMessage(message({ type: 'appResp', from: 5, to: 1, term: 3 }), view)).toBe('staleConfig');
    expect(validateMessage(message({ type: 'vote', from: 5, to: 1, term: 3 }), view)).toBe('staleConfig');
    // A learner asking for votes is operating under an older (or newer) configuration than ours.
    expect(validateMessage(message({ type: 'preVote', from: 4, to: 1, term: 3 }), view)).toBe('staleConfig');
    expect(
      validateMessage(message({ type: 'vote', from: 9, to: 1, term: 4, index: 9, logTerm: 3 }), view),
    ).toBe('unknownNode');
  });

  it('lets vote requests through from non-voters whose log is at least as up-to-date as ours', () => {
    // We may simply not have received the configuration entry that made them voters.
    expect(
      validateMessage(message({ type: 'vote', from: 9, to: 1, term: 4, index: 10, logTerm: 3 }), view),
    ).toBeUndefined();
    expect(
      validateMessage(message({ type: 'preVote', from: 4, to: 1, term: 5, index: 2, logTerm: 4 }), view),
    ).toBeUndefined();
  });

  it('lets leader traffic through from non-members (the receiver may lag behind)', () => {
    expect(validateMessage(message({ type: 'heartbeat', from: 9, to: 1, term: 3 }), view)).toBeUndefined();
    expect(validateMessage(message({ type: 'app', from: 9, to: 1, term: 3 }), view)).toBeUndefined();
  });
});
