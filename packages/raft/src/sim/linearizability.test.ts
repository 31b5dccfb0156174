import { describe, expect, it } from 'vitest';
import {
  checkOperations,
  formatResult,
  type KvInput,
  type KvOperation,
  type KvOutput,
  kvModel,
} from './linearizability.js';
import { Rng } from './prng.js';

// Hand-made histories for the checker itself. Times are logical; ret = Infinity means the outcome
// is unknown (the operation may or may not have taken effect).

let nextId = 0;
function put(clientId: number, key: string, value: string, call: number, ret: number): KvOperation {
  return {
    id: nextId++,
    clientId,
    input: { kind: 'put', key, value },
    output: ret === Infinity ? undefined : null,
    call,
    ret,
  };
}
function get(clientId: number, key: string, output: string | null, call: number, ret: number): KvOperation {
  return { id: nextId++, clientId, input: { kind: 'get', key }, output, call, ret };
}
const check = (h: KvOperation[]) => checkOperations(kvModel, h).outcome;

describe('linearizability checker (Wing–Gong with memoization)', () => {
  it('accepts an empty history and a sequential one', () => {
    expect(check([])).toBe('ok');
    expect(
      check([put(1, 'x', 'a', 0, 1), get(1, 'x', 'a', 2, 3), put(1, 'x', 'b', 4, 5), get(2, 'x', 'b', 6, 7)]),
    ).toBe('ok');
  });

  it('accepts a read of the initial (absent) value', () => {
    expect(check([get(1, 'x', null, 0, 1), put(2, 'x', 'a', 2, 3)])).toBe('ok');
  });

  it('rejects a stale read after a write completed', () => {
    expect(check([put(1, 'x', 'a', 0, 1), put(1, 'x', 'b', 2, 3), get(2, 'x', 'a', 4, 5)])).toBe('illegal');
  });

  it('rejects a read of a value nobody wrote', () => {
    expect(check([put(1, 'x', 'a', 0, 10), get(2, 'x', 'zzz', 1, 2)])).toBe('illegal');
  });

  it('accepts either value for a read concurrent with a write', () => {
    expect(check([put(1, 'x', 'a', 0, 1), put(1, 'x', 'b', 2, 10), get(2, 'x', 'a', 3, 4)])).toBe('ok');
    expect(check([put(1, 'x', 'a', 0, 1), put(1, 'x', 'b', 2, 10), get(2, 'x', 'b', 3, 4)])).toBe('ok');
  });

  it('rejects a new-then-old read sequence against one concurrent write', () => {
    // The write is concurrent with both reads, but once a read saw 'b', a later read cannot see 'a'.
    expect(
      check([
        put(1, 'x', 'a', 0, 1),
        put(1, 'x', 'b', 2, 20),
        get(2, 'x', 'b', 3, 4),
        get(2, 'x', 'a', 5, 6),
      ]),
    ).toBe('illegal');
  });

  it('rejects two readers observing two concurrent writes in opposite orders', () => {
    const h = [
      put(1, 'x', 'a', 0, 100),
      put(2, 'x', 'b', 0, 100),
      get(3, 'x', 'a', 1, 2),
      get(3, 'x', 'b', 3, 4),
      get(4, 'x', 'b', 1, 2),
      get(4, 'x', 'a', 5, 6),
    ];
    // c3 saw a then b, c4 saw b then a; with c4's 'a' after c3's 'b' returned, no single order works.
    expect(check(h)).toBe('illegal');
  });

  it('treats an unknown-outcome write as possibly applied…', () => {
    expect(check([put(1, 'x', 'a', 0, 1), put(2, 'x', 'b', 2, Infinity), get(3, 'x', 'b', 50, 51)])).toBe(
      'ok',
    );
  });

  it('…or possibly not applied', () => {
    expect(check([put(1, 'x', 'a', 0, 1), put(2, 'x', 'b', 2, Infinity), get(3, 'x', 'a', 50, 51)])).toBe(
      'ok',
    );
  });

  it('but never as applied before it was invoked', () => {
    expect(check([put(1, 'x', 'a', 0, 1), get(3, 'x', 'b', 2, 3), put(2, 'x', 'b', 5, Infinity)])).toBe(
      'illegal',
    );
  });

  it('does not let an unknown write take effect, be overwritten, then reappear', () => {
    expect(
      check([
        put(2, 'x', 'b', 0, Infinity),
        get(1, 'x', 'b', 1, 2),
        put(1, 'x', 'c', 3, 4),
        get(1, 'x', 'b', 5, 6),
      ]),
    ).toBe('illegal');
  });

  it('treats touching intervals (ret == call) as concurrent', () => {
    expect(check([put(1, 'x', 'a', 0, 5), get(2, 'x', null, 5, 6)])).toBe('ok');
    expect(check([put(1, 'x', 'a', 0, 4), get(2, 'x', null, 5, 6)])).toBe('illegal');
  });

  it('checks keys independently and reports the failing key with a readable explanation', () => {
    const h = [
      put(1, 'x', 'a', 0, 1),
      get(2, 'x', 'a', 2, 3),
      put(1, 'y', 'p', 0, 1),
      put(1, 'y', 'q', 2, 3),
      get(2, 'y', 'p', 4, 5),
    ];
    const r = checkOperations(kvModel, h);
    expect(r.outcome).toBe('illegal');
    expect(r.partition?.every((o) => o.input.key === 'y')).toBe(true);
    const text = formatResult(kvModel, r);
    expect(text).toContain('not linearizable');
    expect(text).toContain('get(y) → "p"');
  });

  it('returns unknown (never illegal) when the search budget runs out', () => {
    const h: KvOperation[] = [];
    for (let i = 0; i < 30; i++) h.push(put(i, 'x', `v${i}`, 0, Infinity));
    h.push(get(99, 'x', 'nope', 1, 2));
    expect(checkOperations(kvModel, h, { budget: 50 }).outcome).toBe('unknown');
  });

  // Randomised: histories produced by a real atomic register (each op takes effect at one instant
  // inside its interval) are linearizable; corrupting one read's output usually makes them not.
  it('accepts random histories of an atomic register and catches corrupted reads', () => {
    const rng = new Rng(42);
    let caught = 0;
    for (let round = 0; round < 40; round++) {
      const ops: KvOperation[] = [];
      const value = new Map<string, string>();
      type Pending = {
        clientId: number;
        input: KvInput;
        call: number;
        effectAt: number;
        ret: number;
        out?: KvOutput;
      };
      const pending: Pending[] = [];
      for (let c = 0; c < 5; c++) {
        let t = rng.int(3);
        for (let k = 0; k < 12; k++) {
          const key = rng.pick(['x', 'y']);
          const dur = 1 + rng.int(6);
          const input: KvInput = rng.chance(0.5)
            ? { kind: 'put', key, value: `c${c}.${k}` }
            : { kind: 'get', key };
          const effectAt = t + rng.next() * dur;
          pending.push({ clientId: c, input, call: t, effectAt, ret: t + dur });
          t += dur + rng.int(2) + 0.5;
        }
      }
      // Apply in effect order.
      for (const p of [...pending].sort((a, b) => a.effectAt - b.effectAt)) {
        if (p.input.kind === 'put') value.set(p.input.key, p.input.value);
        else p.out = value.get(p.input.key) ?? null;
      }
      for (const p of pending) {
        const unknown = p.input.kind === 'put' && rng.chance(0.1);
        ops.push({
          id: ops.length,
          clientId: p.clientId,
          input: p.input,
          output: p.input.kind === 'put' ? (unknown ? undefined : null) : (p.out as KvOutput),
          call: p.call,
          ret: unknown ? Infinity : p.ret,
        });
      }
      expect(checkOperations(kvModel, ops).outcome).toBe('ok');
      const gets = ops.filter((o) => o.input.kind === 'get');
      const victim = rng.pick(gets);
      const bad = ops.map((o) => (o === victim ? { ...o, output: 'never-written' } : o));
      if (checkOperations(kvModel, bad).outcome === 'illegal') caught++;
    }
    expect(caught).toBe(40); // a value nobody wrote can never be explained
  });
});
