// Wire format of the controller-to-controller Raft transport.
//
// Frame:   u32 big-endian payload length, then the payload.
// Payload: u32 big-endian header length, the header (UTF-8 JSON), then the blob region: the raw bytes of
//          every Uint8Array field, concatenated in a fixed order. The header carries only their lengths
//          (offsets follow from the order), so bulk data (entry data, snapshot chunks) travels unencoded.
//
// Header kinds:
//   hello   {k:'h', from, cluster, to}      first frame on every connection (sender identification)
//   message {k:'m', t, f, o, T, L, i, c, r, h, x, e, s}  one Raft message; zero/false/empty fields omitted
//     t type, f from, o to, T term, L logTerm, i index, c commit, r reject (1), h rejectHint,
//     x context length, e entries [[term, index, 0 normal | 1 confChange, data length], ...],
//     s snapshot chunk [mdIndex, mdTerm, voters, learners, offset, totalSize, done (0|1), data length]
//   Blob order: context, each entry's data, snapshot chunk data.
import type { Entry, Message, NetworkMessageType, SnapshotChunk } from '@palisade/raft';

/** Default maximum frame payload: room for a snapshot chunk plus its header. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** Every network message type (local types never travel). Kept in step with @palisade/raft by the type. */
const NETWORK_TYPE_FLAGS: Record<NetworkMessageType, true> = {
  app: true,
  appResp: true,
  vote: true,
  voteResp: true,
  preVote: true,
  preVoteResp: true,
  heartbeat: true,
  heartbeatResp: true,
  snap: true,
  snapResp: true,
  readIndex: true,
  readIndexResp: true,
  transferLeader: true,
  timeoutNow: true,
};

/** FrameError: the peer sent something we cannot decode; the connection must be closed. */
export class FrameError extends Error {
  constructor(
    readonly reason: 'oversized' | 'malformed',
    detail: string,
  ) {
    super(`${reason} frame: ${detail}`);
    this.name = 'FrameError';
  }
}

/** Hello is the handshake frame that opens every connection. */
export interface Hello {
  readonly from: number;
  readonly to: number;
  readonly cluster: string;
}

export type Decoded = { kind: 'hello'; hello: Hello } | { kind: 'message'; message: Message };

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const EMPTY = new Uint8Array(0);

/**
 * FrameDecoder turns a byte stream into frame payloads. It accepts chunks of any size (one byte, or
 * many frames at once) and copies each payload into its own buffer exactly once. push() throws a
 * FrameError for a length above `maxFrameBytes` (before allocating it); after that the decoder is dead.
 */
export class FrameDecoder {
  private readonly head = new Uint8Array(4);
  private headFill = 0;
  private body: Uint8Array | null = null;
  private bodyFill = 0;
  private failed = false;

  constructor(public maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.feed(chunk, (p) => {
      out.push(p);
      return true;
    });
    return out;
  }

  /**
   * feed calls onFrame for each complete payload as it is found, so onFrame may change maxFrameBytes
   * for the very next frame of the same chunk (the limit is raised after the handshake). onFrame
   * returning false stops processing (the rest of the chunk is discarded; the connection is closing).
   */
  feed(chunk: Uint8Array, onFrame: (payload: Uint8Array) => boolean | undefined): void {
    if (this.failed) throw new FrameError('malformed', 'decoder already failed');
    let pos = 0;
    while (pos < chunk.byteLength) {
      if (this.body === null) {
        const n = Math.min(4 - this.headFill, chunk.byteLength - pos);
        this.head.set(chunk.subarray(pos, pos + n), this.headFill);
        this.headFill += n;
        pos += n;
        if (this.headFill < 4) break;
        const len = new DataView(this.head.buffer).getUint32(0, false);
        if (len > this.maxFrameBytes) {
          this.failed = true;
          throw new FrameError('oversized', `${len} bytes > limit ${this.maxFrameBytes}`);
        }
        this.body = new Uint8Array(len);
        this.bodyFill = 0;
      }
      const n = Math.min(this.body.byteLength - this.bodyFill, chunk.byteLength - pos);
      this.body.set(chunk.subarray(pos, pos + n), this.bodyFill);
      this.bodyFill += n;
      pos += n;
      if (this.bodyFill === this.body.byteLength) {
        const payload = this.body;
        this.body = null;
        this.headFill = 0;
        if (onFrame(payload) === false) return;
      }
    }
  }

  /** Bytes of an incomplete frame held (for tests and stats). */
  get pending(): number {
    return this.body === null ? this.headFill : 4 + this.bodyFill;
  }
}

/** Blobs at least this large are sent as they are (views), not copied into the frame. */
const ZERO_COPY_BYTES = 64 * 1024;

/**
 * framePieces lays out one frame as pieces to be written one after another: the length prefix, the
 * header and small blobs copied together, large blobs (snapshot chunks, big entries) as the caller's
 * own bytes — never modified once created. A leader streaming a 50 MB snapshot otherwise copied it
 * all into fresh frame buffers: megabytes of new memory per round trip to fault in and collect.
 */
function framePieces(header: unknown, blobs: readonly Uint8Array[]): Uint8Array[] {
  const h = utf8.encode(JSON.stringify(header));
  let blobLen = 0;
  for (const b of blobs) blobLen += b.byteLength;
  const head = new Uint8Array(8 + h.byteLength);
  const dv = new DataView(head.buffer);
  dv.setUint32(0, 4 + h.byteLength + blobLen, false);
  dv.setUint32(4, h.byteLength, false);
  head.set(h, 8);
  const pieces: Uint8Array[] = [];
  let run: Uint8Array[] = [head];
  const flush = () => {
    if (run.length === 1) pieces.push(run[0] as Uint8Array);
    else if (run.length > 1) pieces.push(concatBytes(run));
    run = [];
  };
  for (const b of blobs) {
    if (b.byteLength >= ZERO_COPY_BYTES) {
      flush();
      pieces.push(b);
    } else if (b.byteLength > 0) run.push(b);
  }
  flush();
  return pieces;
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.byteLength;
  const out = new Uint8Array(len);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.byteLength;
  }
  return out;
}

function framePayload(header: unknown, blobs: readonly Uint8Array[]): Uint8Array {
  const pieces = framePieces(header, blobs);
  return pieces.length === 1 ? (pieces[0] as Uint8Array) : concatBytes(pieces);
}

/** encodeHello returns the complete handshake frame (length prefix included). */
export function encodeHello(h: Hello): Uint8Array {
  return framePayload({ k: 'h', from: h.from, to: h.to, cluster: h.cluster }, []);
}

/** encodeMessage returns one complete frame (length prefix included) carrying `m`. */
export function encodeMessage(m: Message): Uint8Array {
  const pieces = encodeMessagePieces(m);
  return pieces.length === 1 ? (pieces[0] as Uint8Array) : concatBytes(pieces);
}

/**
 * encodeMessagePieces returns the frame carrying `m` as pieces to write in order (see framePieces):
 * large entry and snapshot data are not copied, so they must not change until written (they never do).
 */
export function encodeMessagePieces(m: Message): Uint8Array[] {
  const blobs: Uint8Array[] = [];
  const hd: Record<string, unknown> = { k: 'm', t: m.type, f: m.from, o: m.to };
  if (m.term) hd.T = m.term;
  if (m.logTerm) hd.L = m.logTerm;
  if (m.index) hd.i = m.index;
  if (m.commit) hd.c = m.commit;
  if (m.reject) hd.r = 1;
  if (m.rejectHint) hd.h = m.rejectHint;
  if (m.context.byteLength) {
    hd.x = m.context.byteLength;
    blobs.push(m.context);
  }
  if (m.entries.length) {
    hd.e = m.entries.map((e) => {
      blobs.push(e.data);
      return [e.term, e.index, e.type === 'confChange' ? 1 : 0, e.data.byteLength];
    });
  }
  const s = m.snapshot;
  if (s) {
    const md = s.metadata;
    hd.s = [
      md.index,
      md.term,
      md.confState.voters,
      md.confState.learners,
      s.offset,
      s.totalSize,
      s.done ? 1 : 0,
      s.data.byteLength,
    ];
    blobs.push(s.data);
  }
  return framePieces(hd, blobs);
}

/** isSnapshotMessage: snapshot chunks are never dropped by queue pressure while others can be. */
export function isSnapshotMessage(m: Message): boolean {
  return m.type === 'snap';
}

const bad = (detail: string): never => {
  throw new FrameError('malformed', detail);
};

const isU = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function num(h: Record<string, unknown>, key: string, positive = false): number {
  const v = h[key];
  if (v === undefined) return positive ? bad(`missing ${key}`) : 0;
  if (!isU(v) || (positive && v === 0)) return bad(`bad ${key}`);
  return v;
}

function ids(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => isU(x) && x > 0)) return bad(`bad ${what}`);
  return v as number[];
}

/** Blob region reader: hands out consecutive slices, all views of the one payload buffer. */
class Blobs {
  private pos: number;
  constructor(
    private readonly buf: Uint8Array,
    start: number,
  ) {
    this.pos = start;
  }
  take(len: unknown): Uint8Array {
    if (!isU(len)) return bad('bad blob length');
    if (len === 0) return EMPTY;
    if (this.pos + len > this.buf.byteLength) return bad('blob past end of frame');
    const b = new Uint8Array(this.buf.buffer, this.buf.byteOffset + this.pos, len);
    this.pos += len;
    return b;
  }
  end(): void {
    if (this.pos !== this.buf.byteLength) bad('trailing bytes after blobs');
  }
}

/**
 * decodePayload parses one frame payload (as returned by FrameDecoder). It checks the shape strictly
 * (types, integer ranges, blob bounds, no trailing bytes) and throws FrameError('malformed') otherwise.
 * Semantic checks (term rules, entry order, membership) are the Raft core's job on step().
 */
export function decodePayload(p: Uint8Array): Decoded {
  if (p.byteLength < 4) bad('payload shorter than its header length');
  const hlen = new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(0, false);
  if (4 + hlen > p.byteLength) bad('header past end of frame');
  let hv: unknown;
  try {
    hv = JSON.parse(utf8Strict.decode(p.subarray(4, 4 + hlen)));
  } catch {
    bad('header is not UTF-8 JSON');
  }
  if (typeof hv !== 'object' || hv === null || Array.isArray(hv)) return bad('header is not an object');
  const h = hv as Record<string, unknown>;
  const blobs = new Blobs(p, 4 + hlen);

  if (h.k === 'h') {
    if (typeof h.cluster !== 'string' || h.cluster.length > 256) bad('bad cluster');
    const hello: Hello = { from: num(h, 'from', true), to: num(h, 'to', true), cluster: h.cluster as string };
    blobs.end();
    return { kind: 'hello', hello };
  }
  if (h.k !== 'm') return bad('unknown header kind');

  const type = h.t;
  if (typeof type !== 'string' || !Object.hasOwn(NETWORK_TYPE_FLAGS, type)) return bad('bad message type');
  if (h.r !== undefined && h.r !== 1) bad('bad reject');
  const context = blobs.take(h.x ?? 0);
  const entries: Entry[] = [];
  if (h.e !== undefined) {
    if (!Array.isArray(h.e)) bad('bad entries');
    for (const e of h.e as unknown[]) {
      if (!Array.isArray(e) || e.length !== 4) return bad('bad entry');
      const [term, index, kind, len] = e as unknown[];
      if (!isU(term) || !isU(index) || (kind !== 0 && kind !== 1)) return bad('bad entry');
      entries.push({ term, index, type: kind === 1 ? 'confChange' : 'normal', data: blobs.take(len) });
    }
  }
  let snapshot: SnapshotChunk | null = null;
  if (h.s !== undefined) {
    const s = h.s;
    if (!Array.isArray(s) || s.length !== 8) return bad('bad snapshot');
    const [mi, mt, voters, learners, offset, totalSize, done, len] = s as unknown[];
    if (!isU(mi) || !isU(mt) || !isU(offset) || !isU(totalSize) || (done !== 0 && done !== 1)) {
      return bad('bad snapshot');
    }
    snapshot = {
      metadata: {
        index: mi,
        term: mt,
        confState: { voters: ids(voters, 'voters'), learners: ids(learners, 'learners') },
      },
      offset,
      totalSize,
      done: done === 1,
      data: blobs.take(len),
    };
  }
  blobs.end();
  const message: Message = {
    type: type as NetworkMessageType,
    from: num(h, 'f', true),
    to: num(h, 'o', true),
    term: num(h, 'T'),
    logTerm: num(h, 'L'),
    index: num(h, 'i'),
    entries,
    commit: num(h, 'c'),
    reject: h.r === 1,
    rejectHint: num(h, 'h'),
    context,
    snapshot,
  };
  return { kind: 'message', message };
}
