// TcpTransport carries Raft messages between controllers. Each node dials one outgoing connection per
// peer and sends only on it; it receives on the connections its peers dial. Every connection opens with
// a hello frame ({from, to, cluster}); the receiver drops connections from unknown ids, other clusters
// or (with mutual TLS) a certificate that does not name the claimed id. send() never blocks or throws:
// Raft tolerates loss, so when a peer is slow or away its bounded queue drops the oldest messages.
import net from 'node:net';
import tls from 'node:tls';
import type { Message } from '@palisade/raft';
import type { Logger } from '../logger.js';
import {
  DEFAULT_MAX_FRAME_BYTES,
  decodePayload,
  encodeHello,
  encodeMessagePieces,
  FrameDecoder,
  FrameError,
  type Hello,
  isSnapshotMessage,
} from './frame.js';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface TcpTransportOptions {
  /** This node's Raft id. */
  id: number;
  /** Cluster name exchanged in the handshake; connections from another cluster are refused. */
  cluster?: string;
  listen: PeerAddress;
  /** Every other member (this node's own id, if present, is ignored). */
  peers: ReadonlyMap<number, PeerAddress>;
  /** Called for every message received from an authenticated peer, addressed to this node. */
  onMessage(msg: Message): void;
  log?: Logger;
  /**
   * Mutual TLS. Given: both sides present certificates from `ca`, and a peer's certificate must name its
   * node id (subject CN or a DNS subjectAltName equal to tlsName(id), default `node-<id>`).
   */
  tls?: tls.SecureContextOptions;
  tlsName?: (id: number) => string;
  /** Largest frame payload accepted once a peer is authenticated (default 64 MiB). */
  maxFrameBytes?: number;
  /** Per-peer queue bound, in messages (default 4096) and bytes (default 128 MiB;
   *  a single larger message is still kept). */
  maxQueueMessages?: number;
  maxQueueBytes?: number;
  /** Reconnect backoff: first delay and cap, in ms (defaults 50 and 5000); ±20 % jitter. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** An inbound connection must send its hello within this time (default 5000 ms). */
  handshakeTimeoutMs?: number;
}

export interface PeerStats {
  connected: boolean;
  queued: number;
  queuedBytes: number;
  sent: number;
  dropped: number;
  connects: number;
}

export interface TransportStats {
  sent: number;
  received: number;
  /** Inbound connections that completed the handshake and are open. */
  inbound: number;
  peers: Record<number, PeerStats>;
  /**
   * Counters by reason: dropQueueFull, dropUnknownPeer, dropEncode, dropClosed, dropMisaddressed,
   * frameOversized, frameMalformed, rejectUnknownId, rejectCluster, rejectIdentity, rejectNotHello,
   * rejectHandshakeTimeout, rejectTls, onMessageThrew, connectError.
   */
  errors: Record<string, number>;
}

const HELLO_MAX_FRAME_BYTES = 4096;

interface Queued {
  /** The frame, as pieces written in order (see encodeMessagePieces). */
  pieces: Uint8Array[];
  bytes: number;
  snap: boolean;
}

/** OutPeer: the outgoing side of one peer — connection, reconnect timer, bounded queue. */
class OutPeer {
  socket: net.Socket | null = null;
  connected = false;
  /** The socket buffer is over its high-water mark: queue until 'drain'. */
  blocked = false;
  queue: Queued[] = [];
  queuedBytes = 0;
  attempts = 0;
  timer: NodeJS.Timeout | null = null;
  closed = false;
  sent = 0;
  dropped = 0;
  connects = 0;

  constructor(
    readonly id: number,
    public addr: PeerAddress,
  ) {}
}

export class TcpTransport {
  private readonly id: number;
  private readonly cluster: string;
  private readonly log: Logger;
  private readonly tlsName: (id: number) => string;
  private readonly maxFrameBytes: number;
  private readonly maxQueueMessages: number;
  private readonly maxQueueBytes: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly handshakeTimeoutMs: number;
  private secureContext: tls.SecureContext | null = null;
  private server: net.Server | null = null;
  private peerAddrs = new Map<number, PeerAddress>();
  private readonly out = new Map<number, OutPeer>();
  /** Open inbound sockets, with the peer id once the hello is accepted. */
  private readonly inbound = new Map<net.Socket, number | null>();
  private readonly errors = new Map<string, number>();
  private sentTotal = 0;
  private receivedTotal = 0;
  private started = false;
  private closed = false;

  constructor(private readonly opts: TcpTransportOptions) {
    this.id = opts.id;
    this.cluster = opts.cluster ?? 'palisade';
    this.log = opts.log ?? (() => {});
    this.tlsName = opts.tlsName ?? ((id) => `node-${id}`);
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxQueueMessages = opts.maxQueueMessages ?? 4096;
    this.maxQueueBytes = opts.maxQueueBytes ?? 128 * 1024 * 1024;
    this.backoffInitialMs = opts.backoffInitialMs ?? 50;
    this.backoffMaxMs = opts.backoffMaxMs ?? 5000;
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? 5000;
    if (opts.tls) this.secureContext = tls.createSecureContext(opts.tls);
    this.setPeerAddrs(opts.peers);
  }

  /** start listens (resolving once bound) and dials every peer. */
  async start(): Promise<void> {
    if (this.started || this.closed) return;
    this.started = true;
    const server = this.opts.tls
      ? tls.createServer({ ...this.opts.tls, requestCert: true, rejectUnauthorized: true })
      : net.createServer();
    this.server = server;
    if (server instanceof tls.Server) {
      server.on('secureConnection', (s) => this.onInbound(s));
      server.on('tlsClientError', (err) => this.count('rejectTls', { error: err.message }));
    } else {
      server.on('connection', (s) => this.onInbound(s));
    }
    server.on('error', (err) => this.log('error', 'raft transport server error', { error: err.message }));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.listen.port, this.opts.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    for (const id of this.peerAddrs.keys()) this.outPeer(id); // dials peers not seen yet
    for (const p of this.out.values()) if (!p.socket && !p.timer) this.dial(p); // queued before start()
  }

  /** The bound port (useful with listen.port 0). */
  get port(): number {
    const a = this.server?.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  /** send queues each message for its peer. It never throws and never waits. */
  send(msgs: readonly Message[]): void {
    if (!Array.isArray(msgs)) {
      this.count('dropEncode', { error: 'send() takes an array' });
      return;
    }
    for (const m of msgs) {
      try {
        this.sendOne(m);
      } catch (err) {
        this.count('dropEncode', { to: m?.to, error: (err as Error).message });
      }
    }
  }

  /**
   * updatePeers replaces the membership: new peers are dialled, removed ones are disconnected (also
   * their inbound connections), and a changed address reconnects.
   */
  updatePeers(peers: ReadonlyMap<number, PeerAddress>): void {
    if (this.closed) return;
    this.setPeerAddrs(peers);
    for (const [id, p] of this.out) {
      const addr = this.peerAddrs.get(id);
      if (!addr) {
        this.destroyOutPeer(p);
        this.out.delete(id);
      } else if (addr.host !== p.addr.host || addr.port !== p.addr.port) {
        p.addr = addr;
        p.socket?.destroy();
      }
    }
    for (const [s, id] of this.inbound) if (id !== null && !this.peerAddrs.has(id)) s.destroy();
    if (this.started) for (const id of this.peerAddrs.keys()) this.outPeer(id);
  }

  stats(): TransportStats {
    const peers: Record<number, PeerStats> = {};
    for (const [id, p] of this.out) {
      peers[id] = {
        connected: p.connected,
        queued: p.queue.length,
        queuedBytes: p.queuedBytes,
        sent: p.sent,
        dropped: p.dropped,
        connects: p.connects,
      };
    }
    let inbound = 0;
    for (const id of this.inbound.values()) if (id !== null) inbound++;
    return {
      sent: this.sentTotal,
      received: this.receivedTotal,
      inbound,
      peers,
      errors: Object.fromEntries(this.errors),
    };
  }

  /** close stops listening, drops every connection and queue, and cancels reconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.out.values()) this.destroyOutPeer(p);
    this.out.clear();
    for (const s of this.inbound.keys()) s.destroy();
    this.inbound.clear();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- outgoing ----

  private setPeerAddrs(peers: ReadonlyMap<number, PeerAddress>): void {
    this.peerAddrs = new Map([...peers].filter(([id]) => id !== this.id));
  }

  private sendOne(m: Message): void {
    if (this.closed) {
      this.count('dropClosed');
      return;
    }
    const p = this.peerAddrs.has(m.to) ? this.outPeer(m.to) : undefined;
    if (!p) {
      this.count('dropUnknownPeer', { to: m.to });
      return;
    }
    const pieces = encodeMessagePieces(m);
    let bytes = 0;
    for (const piece of pieces) bytes += piece.byteLength;
    if (bytes - 4 > this.maxFrameBytes) {
      this.count('dropEncode', { to: m.to, reason: 'larger than maxFrameBytes' });
      return;
    }
    if (p.connected && !p.blocked && p.queue.length === 0) {
      this.write(p, pieces);
      return;
    }
    p.queue.push({ pieces, bytes, snap: isSnapshotMessage(m) });
    p.queuedBytes += bytes;
    this.trimQueue(p);
  }

  /** trimQueue enforces the bound: oldest non-snapshot messages go first, snapshots only as a last resort. */
  private trimQueue(p: OutPeer): void {
    let count = p.queue.length;
    let bytes = p.queuedBytes;
    const over = () => count > this.maxQueueMessages || bytes > this.maxQueueBytes;
    if (!over()) return;
    const before = count;
    const keep: Queued[] = [];
    for (const q of p.queue) {
      if (!q.snap && over()) {
        count--;
        bytes -= q.bytes;
      } else keep.push(q);
    }
    while (keep.length > 1 && over()) {
      const q = keep.shift() as Queued;
      count--;
      bytes -= q.bytes;
    }
    p.queue = keep;
    p.queuedBytes = bytes;
    const dropped = before - count;
    p.dropped += dropped;
    for (let i = 0; i < dropped; i++) this.count('dropQueueFull', { to: p.id });
  }

  private write(p: OutPeer, pieces: readonly Uint8Array[]): void {
    const s = p.socket as net.Socket;
    p.sent++;
    this.sentTotal++;
    let ok = true;
    for (const piece of pieces) ok = s.write(piece);
    if (!ok) p.blocked = true;
  }

  private flush(p: OutPeer): void {
    while (p.connected && !p.blocked && p.queue.length > 0) {
      const q = p.queue.shift() as Queued;
      p.queuedBytes -= q.bytes;
      this.write(p, q.pieces);
    }
  }

  private outPeer(id: number): OutPeer | undefined {
    let p = this.out.get(id);
    if (p) return p;
    const addr = this.peerAddrs.get(id);
    if (!addr || this.closed) return undefined;
    p = new OutPeer(id, addr);
    this.out.set(id, p);
    if (this.started) this.dial(p);
    return p;
  }

  private dial(p: OutPeer): void {
    if (p.closed || this.closed) return;
    const { host, port } = p.addr;
    const s = this.secureContext
      ? tls.connect({
          host,
          port,
          secureContext: this.secureContext,
          servername: net.isIP(host) ? undefined : host,
          checkServerIdentity: (_host, cert) =>
            certNames(cert).includes(this.tlsName(p.id))
              ? undefined
              : new Error(`peer certificate does not name ${this.tlsName(p.id)}`),
        })
      : net.connect({ host, port });
    p.socket = s;
    s.setNoDelay(true);
    s.setKeepAlive(true, 10_000);
    const ready = () => {
      if (p.socket !== s) return;
      p.connected = true;
      p.blocked = false;
      p.attempts = 0;
      p.connects++;
      if (!s.write(encodeHello({ from: this.id, to: p.id, cluster: this.cluster }))) p.blocked = true;
      this.flush(p);
    };
    s.once(this.secureContext ? 'secureConnect' : 'connect', ready);
    s.on('drain', () => {
      if (p.socket !== s) return;
      p.blocked = false;
      this.flush(p);
    });
    // The receiver never answers on this connection; data would be a protocol error, so discard it.
    s.on('data', () => {});
    s.on('error', (err) => this.count('connectError', { to: p.id, error: err.message }));
    s.on('close', () => {
      if (p.socket !== s) return;
      p.socket = null;
      p.connected = false;
      p.blocked = false;
      this.scheduleDial(p);
    });
  }

  /**
   * A peer just connected to us, so it is up: if our side to it is waiting out a reconnect backoff
   * (which grows to seconds while a peer is down), dial now. Otherwise a restarted follower would wait
   * that long for the leader's first message.
   */
  private peerIsBack(id: number): void {
    const p = this.out.get(id);
    if (!p || p.connected || p.socket || !p.timer || p.closed || this.closed) return;
    clearTimeout(p.timer);
    p.timer = null;
    p.attempts = 0;
    this.dial(p);
  }

  private scheduleDial(p: OutPeer): void {
    if (p.closed || this.closed || p.timer) return;
    const base = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** p.attempts);
    p.attempts = Math.min(p.attempts + 1, 30);
    const delay = base * (0.8 + 0.4 * Math.random());
    p.timer = setTimeout(() => {
      p.timer = null;
      this.dial(p);
    }, delay);
    p.timer.unref();
  }

  private destroyOutPeer(p: OutPeer): void {
    p.closed = true;
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    p.socket?.destroy();
    p.socket = null;
    p.connected = false;
    p.queue = [];
    p.queuedBytes = 0;
  }

  // ---- incoming ----

  private onInbound(s: net.Socket): void {
    if (this.closed) {
      s.destroy();
      return;
    }
    this.inbound.set(s, null);
    s.setNoDelay(true);
    s.setKeepAlive(true, 10_000);
    const decoder = new FrameDecoder(Math.min(HELLO_MAX_FRAME_BYTES, this.maxFrameBytes));
    let peer: number | null = null;
    const timer = setTimeout(() => reject('rejectHandshakeTimeout'), this.handshakeTimeoutMs);
    timer.unref();
    const reject = (reason: string, fields: Record<string, unknown> = {}) => {
      this.count(reason, { remote: s.remoteAddress, peer, ...fields });
      s.destroy();
    };
    const onFrame = (payload: Uint8Array): boolean => {
      let d: ReturnType<typeof decodePayload>;
      try {
        d = decodePayload(payload);
      } catch (err) {
        reject('frameMalformed', { error: (err as Error).message });
        return false;
      }
      if (peer === null) {
        if (d.kind !== 'hello') {
          reject('rejectNotHello');
          return false;
        }
        const why = this.checkHello(d.hello, s);
        if (why) {
          reject(why, { from: d.hello.from, cluster: d.hello.cluster });
          return false;
        }
        peer = d.hello.from;
        clearTimeout(timer);
        this.inbound.set(s, peer);
        decoder.maxFrameBytes = this.maxFrameBytes;
        this.peerIsBack(peer);
        return true;
      }
      if (d.kind !== 'message') {
        reject('frameMalformed', { error: 'second hello' });
        return false;
      }
      const m = d.message;
      if (m.from !== peer || m.to !== this.id) {
        this.count('dropMisaddressed', { peer, from: m.from, to: m.to });
        return true;
      }
      this.receivedTotal++;
      try {
        this.opts.onMessage(m);
      } catch (err) {
        this.count('onMessageThrew', { error: (err as Error).message });
      }
      return !s.destroyed;
    };
    s.on('data', (chunk: Buffer) => {
      if (s.destroyed) return;
      try {
        decoder.feed(chunk, onFrame);
      } catch (err) {
        const oversized = err instanceof FrameError && err.reason === 'oversized';
        reject(oversized ? 'frameOversized' : 'frameMalformed', { error: (err as Error).message });
      }
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      this.inbound.delete(s);
    });
  }

  private checkHello(h: Hello, s: net.Socket): string | undefined {
    if (h.cluster !== this.cluster) return 'rejectCluster';
    if (h.to !== this.id || h.from === this.id || !this.peerAddrs.has(h.from)) return 'rejectUnknownId';
    if (s instanceof tls.TLSSocket) {
      const cert = s.getPeerCertificate();
      if (!s.authorized || !certNames(cert).includes(this.tlsName(h.from))) return 'rejectIdentity';
    }
    return undefined;
  }

  private count(reason: string, fields: Record<string, unknown> = {}): void {
    const n = (this.errors.get(reason) ?? 0) + 1;
    this.errors.set(reason, n);
    // The first few of each reason, then every 1000th, so a misbehaving peer cannot flood the log.
    if (n <= 5 || n % 1000 === 0) this.log('warn', 'raft transport', { reason, count: n, ...fields });
  }
}

/** certNames: the subject CN and the DNS subjectAltNames of a peer certificate. */
export function certNames(cert: tls.PeerCertificate | undefined): string[] {
  if (!cert || Object.keys(cert).length === 0) return [];
  const names: string[] = [];
  const cn = cert.subject?.CN;
  if (typeof cn === 'string') names.push(cn);
  else if (Array.isArray(cn)) names.push(...cn);
  for (const part of (cert.subjectaltname ?? '').split(',')) {
    const t = part.trim();
    if (t.startsWith('DNS:')) names.push(t.slice(4));
  }
  return names;
}
