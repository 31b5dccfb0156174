import type { Entry, Message, NetworkMessageType, SnapshotChunk } from '@palisade/raft';
import { describe, expect, it } from 'vitest';
import {
  decodePayload,
  encodeHello,
  encodeMessage,
  encodeMessagePieces,
  FrameDecoder,
  FrameError,
} from './frame.js';

/** Small seeded PRNG (mulberry32) so a failing case can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TYPES: NetworkMessageType[] = [
  'app',
  'appResp',
  'vote',
  'voteResp',
  'preVote',
  'preVoteResp',
  'heartbeat',
  'heartbeatResp',
  'snap',
  'snapResp',
  'readIndex',
  'readIndexResp',
  'transferLeader',
  'timeoutNow',
];

/** randomMessage builds a message of any network type with random (shape-valid) fields. */
function randomMessage(r: () => number, from = 0, to = 0): Message {
  const int = (max: number) => Math.floor(r() * max);
  const big = () => (r() < 0.1 ? Number.MAX_SAFE_INTEGER - int(1000) : int(r() < 0.5 ? 10 : 1_000_000));
  const bytes = (max: number) => {
    const b = new Uint8Array(int(max + 1));
    for (let i = 0; i < b.length; i++) b[i] = int(256);
    return b;
  };
  const type = TYPES[int(TYPES.length)] as NetworkMessageType;
  const term = 1 + big();
  const index = r() < 0.1 ? Number.MAX_SAFE_INTEGER - 10 : int(1_000_000);
  let entries: Entry[] = [];
  if (type === 'app' || r() < 0.05) {
    entries = Array.from({ length: int(6) }, (_, i) => ({
      term: 1 + int(term),
      index: index + 1 + i,
      type: r() < 0.2 ? 'confChange' : 'normal',
      data: bytes(r() < 0.1 ? 5000 : 40),
    }));
  }
  let snapshot: SnapshotChunk | null = null;
  if (type === 'snap') {
    const data = bytes(r() < 0.2 ? 70_000 : 100);
    const offset = int(1000);
    const done = r() < 0.5;
    snapshot = {
      metadata: {
        index: 1 + big(),
        term: 1 + int(term),
        confState: {
          voters: Array.from({ length: int(5) }, (_, i) => i + 1),
          learners: Array.from({ length: int(3) }, (_, i) => i + 10),
        },
      },
      offset,
      totalSize: offset + data.byteLength + (done ? 0 : 1 + int(1000)),
      done,
      data,
    };
  }
  return {
    type,
    from: from || 1 + int(7),
    to: to || 1 + int(7),
    term,
    logTerm: r() < 0.3 ? 0 : int(term),
    index,
    entries,
    commit: big(),
    reject: r() < 0.3,
    rejectHint: r() < 0.5 ? 0 : big(),
    context: r() < 0.6 ? new Uint8Array(0) : bytes(32),
    snapshot,
  };
}

/** feed: push `bytes` into a decoder in random-sized chunks (1 byte up to everything). */
function feed(dec: FrameDecoder, bytes: Uint8Array, r: () => number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const mode = r();
    const n = mode < 0.3 ? 1 : mode < 0.8 ? 1 + Math.floor(r() * 64) : bytes.length - pos;
    out.push(...dec.push(bytes.subarray(pos, pos + n)));
    pos += n;
  }
  return out;
}

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
};

describe('FrameDecoder', () => {
  it('reassembles frames fed byte by byte', () => {
    const frames = [
      encodeHello({ from: 1, to: 2, cluster: 'c' }),
      encodeMessage(randomMessage(rng(1), 1, 2)),
    ];
    const all = concat(frames);
    const dec = new FrameDecoder();
    const out: Uint8Array[] = [];
    for (let i = 0; i < all.length; i++) out.push(...dec.push(all.subarray(i, i + 1)));
    expect(out.map((p) => p.length)).toEqual(frames.map((f) => f.length - 4));
    expect(decodePayload(out[0] as Uint8Array)).toEqual({
      kind: 'hello',
      hello: { from: 1, to: 2, cluster: 'c' },
    });
    expect(dec.pending).toBe(0);
  });

  it('splits coalesced frames, including an empty payload and a frame cut inside its length', () => {
    const m = Array.from({ length: 5 }, (_, i) => encodeMessage(randomMessage(rng(i), 1, 2)));
    const empty = new Uint8Array(4);
    const all = concat([...m, empty, ...m]);
    const dec = new FrameDecoder();
    const first = dec.push(all.subarray(0, all.length - 2));
    expect(first.length).toBe(10);
    expect(dec.pending).toBe((m[4] as Uint8Array).length - 2);
    const rest = dec.push(all.subarray(all.length - 2));
    expect(rest.length).toBe(1);
    expect(first[5]?.length).toBe(0);
  });

  it('refuses an oversized length before reading the payload, and stays failed', () => {
    const dec = new FrameDecoder(1024);
    const head = new Uint8Array([0, 0, 4, 1]); // 1025
    expect(() => dec.push(head)).toThrow(FrameError);
    try {
      new FrameDecoder(1024).push(head);
    } catch (e) {
      expect((e as FrameError).reason).toBe('oversized');
    }
    expect(() => dec.push(new Uint8Array([0]))).toThrow(FrameError);
    expect(new FrameDecoder(1025).push(concat([head, new Uint8Array(1025)])).length).toBe(1);
  });
});

describe('message encoding', () => {
  it('round-trips random messages of every type through random chunking (property)', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 400; seed++) {
      const r = rng(seed);
      const msgs = Array.from({ length: 1 + Math.floor(r() * 4) }, () => randomMessage(r));
      const dec = new FrameDecoder();
      const payloads = feed(dec, concat(msgs.map(encodeMessage)), r);
      const decoded = payloads.map((p) => {
        const d = decodePayload(p);
        if (d.kind !== 'message') throw new Error('not a message');
        return d.message;
      });
      expect(decoded, `seed ${seed}`).toEqual(msgs);
      for (const m of msgs) seen.add(m.type);
    }
    expect(seen.size).toBe(TYPES.length);
  });

  it('carries bytes raw: a 1 MiB entry costs ~1 MiB on the wire', () => {
    const data = new Uint8Array(1 << 20).fill(7);
    const m = {
      ...randomMessage(rng(3), 1, 2),
      type: 'app' as const,
      entries: [{ term: 1, index: 1, type: 'normal' as const, data }],
    };
    const f = encodeMessage(m);
    expect(f.length - data.length).toBeLessThan(300);
  });

  it('rejects malformed payloads with FrameError and nothing else (fuzz)', () => {
    const bads: Uint8Array[] = [
      new Uint8Array(0),
      new Uint8Array([0, 0, 0, 9, 1]),
      new TextEncoder().encode('\0\0\0\x02{}'),
    ];
    const enc = (h: unknown, tail: number[] = []) => {
      const j = new TextEncoder().encode(JSON.stringify(h));
      const p = new Uint8Array(4 + j.length + tail.length);
      new DataView(p.buffer).setUint32(0, j.length);
      p.set(j, 4);
      p.set(tail, 4 + j.length);
      return p;
    };
    bads.push(
      enc({ k: 'm', t: 'hup', f: 1, o: 2 }), // local type
      enc({ k: 'm', t: 'app', f: 0, o: 2 }), // no sender
      enc({ k: 'm', t: 'app', f: 1, o: 2, T: -1 }),
      enc({ k: 'm', t: 'app', f: 1, o: 2, T: 1.5 }),
      enc({ k: 'm', t: 'app', f: 1, o: 2, x: 3 }, [1, 2]), // blob past the end
      enc({ k: 'm', t: 'app', f: 1, o: 2 }, [1]), // trailing bytes
      enc({ k: 'm', t: 'app', f: 1, o: 2, e: [[1, 1, 2, 0]] }),
      enc({ k: 'm', t: 'snap', f: 1, o: 2, s: [1, 1, [0], [], 0, 0, 1, 0] }),
      enc({ k: 'h', from: 1, to: 2 }),
      enc({ k: 'x' }),
      enc([1, 2]),
    );
    for (const b of bads) {
      expect(() => decodePayload(b)).toThrow(FrameError);
    }
    // Random mutations of valid payloads: either decode or throw FrameError, never anything else.
    const r = rng(99);
    for (let i = 0; i < 2000; i++) {
      const f = encodeMessage(randomMessage(r, 1, 2)).slice(4);
      for (let k = 0; k < 3; k++) f[Math.floor(r() * f.length)] = Math.floor(r() * 256);
      try {
        decodePayload(r() < 0.2 ? f.subarray(0, Math.floor(r() * f.length)) : f);
      } catch (e) {
        expect(e).toBeInstanceOf(FrameError);
      }
    }
  });
});

describe('encodeMessagePieces', () => {
  it('passes large blobs through uncopied and equals the one-buffer frame', () => {
    const chunk = new Uint8Array(200 * 1024).map((_, i) => i % 251);
    const big = new Uint8Array(70 * 1024).fill(7);
    const m: Message = {
      ...randomMessage(rng(9), 1, 2),
      type: 'snap',
      entries: [
        { term: 1, index: 1, type: 'normal', data: new Uint8Array([1, 2]) },
        { term: 1, index: 2, type: 'normal', data: big },
        { term: 1, index: 3, type: 'normal', data: new Uint8Array([3]) },
      ],
      snapshot: {
        metadata: { index: 9, term: 2, confState: { voters: [1, 2, 3], learners: [] } },
        offset: 0,
        totalSize: chunk.byteLength,
        done: true,
        data: chunk,
      },
    };
    const pieces = encodeMessagePieces(m);
    // head (+ context + first entry) | big | third entry | snapshot chunk
    expect(pieces).toHaveLength(4);
    expect(pieces[1]).toBe(big);
    expect(pieces[3]).toBe(chunk);
    const frame = concat(pieces);
    expect(frame).toEqual(encodeMessage(m));
    const [payload] = new FrameDecoder().push(frame);
    const d = decodePayload(payload as Uint8Array);
    expect(d.kind === 'message' && d.message.snapshot?.data).toEqual(chunk);
    expect(d.kind === 'message' && d.message.entries.map((e) => e.data.byteLength)).toEqual([
      2,
      big.byteLength,
      1,
    ]);
  });
});
