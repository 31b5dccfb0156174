import net from 'node:net';
import type { Message } from '@palisade/raft';
import { afterEach, describe, expect, it } from 'vitest';
import { decodePayload, encodeHello, encodeMessage, FrameDecoder } from './frame.js';
import { type PeerAddress, TcpTransport, type TcpTransportOptions } from './transport.js';

const HOST = '127.0.0.1';

function msg(from: number, to: number, fields: Partial<Message> = {}): Message {
  return {
    type: 'heartbeat',
    from,
    to,
    term: 1,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(0),
    snapshot: null,
    ...fields,
  };
}

async function waitFor(cond: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Node {
  t: TcpTransport;
  got: Message[];
}

const open: Array<TcpTransport | net.Server | net.Socket> = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    if (o instanceof TcpTransport) await o.close();
    else if (o instanceof net.Server) await new Promise((r) => o.close(r));
    else o.destroy();
  }
});

async function node(id: number, extra: Partial<TcpTransportOptions> = {}, port = 0): Promise<Node> {
  const got: Message[] = [];
  const t = new TcpTransport({
    id,
    cluster: 'test',
    listen: { host: HOST, port },
    peers: new Map(),
    onMessage: (m) => got.push(m),
    backoffInitialMs: 10,
    backoffMaxMs: 100,
    ...extra,
  });
  open.push(t);
  await t.start();
  return { t, got };
}

function mesh(nodes: Node[]): Map<number, PeerAddress> {
  const peers = new Map<number, PeerAddress>();
  for (const [i, n] of nodes.entries()) peers.set(i + 1, { host: HOST, port: n.t.port });
  for (const n of nodes) n.t.updatePeers(peers);
  return peers;
}

/** rawClient connects a plain socket to a transport and resolves once connected. */
async function rawClient(port: number): Promise<net.Socket> {
  const s = net.connect({ host: HOST, port });
  open.push(s);
  s.on('error', () => {});
  await new Promise((r) => s.once('connect', r));
  return s;
}

const closed = (s: net.Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

describe('TcpTransport', () => {
  it('three transports exchange messages in every direction', async () => {
    const nodes = [await node(1), await node(2), await node(3)];
    mesh(nodes);
    for (let round = 0; round < 20; round++) {
      for (let from = 1; from <= 3; from++) {
        const out: Message[] = [];
        for (let to = 1; to <= 3; to++) if (to !== from) out.push(msg(from, to, { index: round }));
        nodes[from - 1]?.t.send(out);
      }
    }
    await waitFor(() => nodes.every((n) => n.got.length === 40), 3000, 'all messages');
    for (const [i, n] of nodes.entries()) {
      for (const from of [1, 2, 3].filter((x) => x !== i + 1)) {
        // One connection per peer: per-sender order is preserved.
        expect(n.got.filter((m) => m.from === from).map((m) => m.index)).toEqual([...Array(20).keys()]);
      }
      expect(n.got.every((m) => m.to === i + 1)).toBe(true);
      expect(n.t.stats().received).toBe(40);
      expect(n.t.stats().inbound).toBe(2);
    }
  });

  it('delivers messages sent before start() once started', async () => {
    const b = await node(2);
    const got: Message[] = [];
    const a = new TcpTransport({
      id: 1,
      cluster: 'test',
      listen: { host: HOST, port: 0 },
      peers: new Map([[2, { host: HOST, port: b.t.port }]]),
      onMessage: (m) => got.push(m),
    });
    open.push(a);
    a.send([msg(1, 2, { index: 1 })]);
    expect(a.stats().peers[2]?.queued).toBe(1);
    // b must know id 1 before a connects (b never dials a here: port 9 is a placeholder).
    b.t.updatePeers(new Map([[1, { host: HOST, port: 9 }]]));
    await a.start();
    await waitFor(() => b.got.length === 1, 3000, 'delivery');
  });

  it('drops (and counts) messages to unknown peers without throwing', async () => {
    const a = await node(1);
    expect(() => a.t.send([msg(1, 7), msg(1, 1), { nonsense: true } as unknown as Message])).not.toThrow();
    expect(a.t.stats().errors.dropUnknownPeer).toBe(3);
  });

  it('resumes delivery after a peer restarts on the same port', async () => {
    const a = await node(1);
    let b = await node(2);
    const peers = mesh([a, b]);
    a.t.send([msg(1, 2, { index: 1 })]);
    await waitFor(() => b.got.length === 1, 3000, 'first delivery');
    const port = b.t.port;
    await b.t.close();
    await waitFor(() => a.t.stats().peers[2]?.connected === false, 3000, 'disconnect noticed');
    a.t.send([msg(1, 2, { index: 2 })]); // queued while b is away (or lost: Raft tolerates loss)
    b = await node(2, { peers }, port);
    await waitFor(() => a.t.stats().peers[2]?.connected === true, 5000, 'reconnect');
    a.t.send([msg(1, 2, { index: 3 })]);
    await waitFor(() => b.got.some((m) => m.index === 3), 3000, 'delivery after restart');
    expect(a.t.stats().peers[2]?.connects).toBeGreaterThanOrEqual(2);
    // And the restarted node can reach the survivor.
    b.t.send([msg(2, 1, { index: 9 })]);
    await waitFor(() => a.got.some((m) => m.index === 9), 3000, 'reverse delivery');
  });

  it('dials a peer at once when it connects to us, instead of waiting out a long backoff', async () => {
    // A backoff that has grown to a minute while the peer was away.
    const a = await node(1, { backoffInitialMs: 60_000, backoffMaxMs: 60_000 });
    let b = await node(2);
    const peers = mesh([a, b]);
    a.t.send([msg(1, 2, { index: 1 })]);
    await waitFor(() => b.got.length === 1, 3000, 'first delivery');
    const port = b.t.port;
    await b.t.close();
    await waitFor(() => a.t.stats().peers[2]?.connected === false, 3000, 'disconnect noticed');
    b = await node(2, { peers }, port);
    // b's own hello to a is the sign it is back; a must not wait 60 s to reconnect.
    b.t.send([msg(2, 1, { index: 5 })]);
    await waitFor(() => a.got.some((m) => m.index === 5), 3000, 'b reaches a');
    await waitFor(() => a.t.stats().peers[2]?.connected === true, 3000, 'a reconnects to b at once');
    a.t.send([msg(1, 2, { index: 6 })]);
    await waitFor(() => b.got.some((m) => m.index === 6), 3000, 'delivery after the peer came back');
  });

  it('never blocks send on a peer that stops reading: bounded queue, oldest non-snapshot dropped', async () => {
    // Peer 2 is a raw server that accepts and pauses the socket (stops reading).
    let peerSock: net.Socket | undefined;
    const server = net.createServer((s) => {
      peerSock = s;
      open.unshift(s);
      s.pause();
    });
    open.push(server);
    await new Promise<void>((r) => server.listen(0, HOST, r));
    const port = (server.address() as net.AddressInfo).port;
    const a = await node(1, { peers: new Map([[2, { host: HOST, port }]]), maxQueueMessages: 50 });
    await waitFor(() => a.t.stats().peers[2]?.connected === true, 3000, 'connect');

    const big = new Uint8Array(256 * 1024);
    const snap = msg(1, 2, {
      type: 'snap',
      snapshot: {
        metadata: { index: 5, term: 1, confState: { voters: [1, 2], learners: [] } },
        offset: 0,
        totalSize: 4,
        done: true,
        data: new Uint8Array([1, 2, 3, 4]),
      },
    });
    const started = performance.now();
    // ~150 MB offered to a peer that reads nothing.
    for (let i = 0; i < 600; i++) {
      a.t.send([
        msg(1, 2, { type: 'app', index: i, entries: [{ term: 1, index: i + 1, type: 'normal', data: big }] }),
      ]);
      if (i === 300) a.t.send([snap]);
      const st = a.t.stats().peers[2];
      expect(st?.queued).toBeLessThanOrEqual(50);
    }
    expect(performance.now() - started).toBeLessThan(3000);
    const st = a.t.stats();
    expect(st.peers[2]?.dropped).toBeGreaterThan(400);
    expect(st.errors.dropQueueFull).toBe(st.peers[2]?.dropped);

    // Let the peer read again: it gets the hello, what the socket had buffered, then the snapshot and
    // the newest messages, in order.
    const dec = new FrameDecoder();
    const got: Message[] = [];
    const sock = peerSock as net.Socket;
    sock.on('data', (c: Buffer) => {
      for (const p of dec.push(c)) {
        const d = decodePayload(p);
        if (d.kind === 'message') got.push(d.message);
      }
    });
    sock.resume();
    await waitFor(() => got.some((m) => m.index === 599), 5000, 'drain');
    expect(got.some((m) => m.type === 'snap')).toBe(true);
    const idx = got.filter((m) => m.type === 'app').map((m) => m.index);
    expect(idx).toEqual([...idx].sort((x, y) => x - y));
    expect(idx.length).toBeLessThan(600);
    await waitFor(() => a.t.stats().peers[2]?.queued === 0, 3000, 'queue empty');
  });

  it('rejects handshakes from unknown ids, other clusters, non-hello first frames (counted)', async () => {
    const a = await node(1);
    const b = await node(2);
    mesh([a, b]);
    const cases: Array<[Uint8Array, string]> = [
      [encodeHello({ from: 9, to: 1, cluster: 'test' }), 'rejectUnknownId'],
      [encodeHello({ from: 2, to: 3, cluster: 'test' }), 'rejectUnknownId'],
      [encodeHello({ from: 1, to: 1, cluster: 'test' }), 'rejectUnknownId'],
      [encodeHello({ from: 2, to: 1, cluster: 'other' }), 'rejectCluster'],
      [encodeMessage(msg(2, 1)), 'rejectNotHello'],
    ];
    for (const [frame, reason] of cases) {
      const s = await rawClient(a.t.port);
      s.write(frame);
      s.write(encodeMessage(msg(2, 1, { index: 77 })));
      await closed(s);
      expect(a.t.stats().errors[reason], reason).toBeGreaterThanOrEqual(1);
    }
    expect(a.got.some((m) => m.index === 77)).toBe(false);
  });

  it('closes a connection that sends no hello in time', async () => {
    const a = await node(1, { handshakeTimeoutMs: 100 });
    const s = await rawClient(a.t.port);
    await closed(s);
    expect(a.t.stats().errors.rejectHandshakeTimeout).toBe(1);
  });

  it('closes a connection on an oversized or malformed frame, counts it, and keeps serving others', async () => {
    const a = await node(1, { maxFrameBytes: 1024 });
    const b = await node(2);
    mesh([a, b]);
    const hello = encodeHello({ from: 2, to: 1, cluster: 'test' });

    const s1 = await rawClient(a.t.port);
    s1.write(hello);
    s1.write(new Uint8Array([0, 0, 0x10, 0])); // 4096 > 1024
    await closed(s1);
    expect(a.t.stats().errors.frameOversized).toBe(1);

    const s2 = await rawClient(a.t.port);
    s2.write(hello);
    s2.write(new Uint8Array([0, 0, 0, 6, 0, 0, 0, 2, 0x7b, 0x21])); // header "{!"
    await closed(s2);
    expect(a.t.stats().errors.frameMalformed).toBe(1);

    // Before the hello the frame limit is small: a huge length is refused at once.
    // (b accepts 64 MiB frames from peers, but 1 MiB from an unidentified client is refused.)
    const s3 = await rawClient(b.t.port);
    s3.write(new Uint8Array([0, 0x10, 0, 0]));
    await closed(s3);
    expect(b.t.stats().errors.frameOversized).toBe(1);

    // A peer may only send messages from itself to us.
    const s4 = await rawClient(a.t.port);
    s4.write(hello);
    s4.write(encodeMessage(msg(3, 1, { index: 5 })));
    s4.write(encodeMessage(msg(2, 4, { index: 5 })));
    s4.write(encodeMessage(msg(2, 1, { index: 6 })));
    await waitFor(() => a.got.some((m) => m.index === 6), 3000, 'valid message after misaddressed');
    expect(a.t.stats().errors.dropMisaddressed).toBe(2);

    // The hello and a frame above the pre-handshake limit in one chunk: the limit rises in between.
    const s5 = await rawClient(b.t.port);
    const hello1 = encodeHello({ from: 1, to: 2, cluster: 'test' });
    const entry = { term: 1, index: 1, type: 'normal' as const, data: new Uint8Array(100_000) };
    const big = encodeMessage(msg(1, 2, { type: 'app', index: 0, entries: [entry] }));
    const both = new Uint8Array(hello1.length + big.length);
    both.set(hello1);
    both.set(big, hello1.length);
    s5.write(both);
    await waitFor(() => b.got.some((m) => m.entries.length === 1), 3000, 'hello + message in one chunk');

    b.t.send([msg(2, 1, { index: 42 })]);
    await waitFor(() => a.got.some((m) => m.index === 42), 3000, 'healthy peer still served');
    expect(a.got.some((m) => m.index === 5)).toBe(false);
  });

  it('keeps going when onMessage throws, and stops cleanly on updatePeers removal and close', async () => {
    let n = 0;
    const a = await node(1, {
      onMessage: () => {
        n++;
        throw new Error('app bug');
      },
    });
    const b = await node(2);
    mesh([a, b]);
    b.t.send([msg(2, 1), msg(2, 1)]);
    await waitFor(() => n === 2, 3000, 'both delivered');
    expect(a.t.stats().errors.onMessageThrew).toBe(2);
    a.t.updatePeers(new Map());
    await waitFor(() => a.t.stats().inbound === 0, 3000, 'inbound from removed peer closed');
    expect(a.t.stats().peers).toEqual({});
    await a.t.close();
    a.t.send([msg(1, 2)]);
    expect(a.t.stats().errors.dropClosed).toBe(1);
  });
});
