// Mutual TLS between transports, with certificates made by `openssl` for this test run only.
// Skipped (with a note) when openssl is not installed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Message } from '@palisade/raft';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TcpTransport } from './transport.js';

const HOST = '127.0.0.1';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const OPENSSL = hasOpenssl();
if (!OPENSSL) console.warn('transport.tls.test: openssl not found, skipping the mutual TLS tests');

let dir = '';
const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

interface Creds {
  ca: string;
  key: string;
  cert: string;
}

function issue(ca: string, cn: string, name: string): Creds {
  writeFileSync(
    join(dir, `${name}.ext`),
    `subjectAltName=DNS:${cn}\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n`,
  );
  ssl(
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${cn}`,
  );
  ssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  );
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return { ca: read(`${ca}.crt`), key: read(`${name}.key`), cert: read(`${name}.crt`) };
}

function newCa(name: string): void {
  ssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-subj',
    `/CN=${name}`,
    '-days',
    '1',
  );
}

const creds: Record<string, Creds> = {};

beforeAll(() => {
  if (!OPENSSL) return;
  dir = mkdtempSync(join(tmpdir(), 'palisade-tls-'));
  newCa('ca');
  newCa('rogue-ca');
  creds.n1 = issue('ca', 'node-1', 'n1');
  creds.n2 = issue('ca', 'node-2', 'n2');
  creds.n3 = issue('ca', 'node-3', 'n3');
  creds.rogue2 = issue('rogue-ca', 'node-2', 'rogue2');
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const open: TcpTransport[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
});

const hb = (from: number, to: number, index: number): Message => ({
  type: 'heartbeat',
  from,
  to,
  term: 1,
  logTerm: 0,
  index,
  entries: [],
  commit: 0,
  reject: false,
  rejectHint: 0,
  context: new Uint8Array(0),
  snapshot: null,
});

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function tlsNode(id: number, c: Creds) {
  const got: Message[] = [];
  const t = new TcpTransport({
    id,
    cluster: 'test',
    listen: { host: HOST, port: 0 },
    peers: new Map(),
    onMessage: (m) => got.push(m),
    tls: { ca: c.ca, key: c.key, cert: c.cert },
    backoffInitialMs: 20,
    backoffMaxMs: 100,
  });
  open.push(t);
  await t.start();
  return { t, got };
}

function link(a: TcpTransport, b: TcpTransport): void {
  const peers = new Map([
    [1, { host: HOST, port: a.port }],
    [2, { host: HOST, port: b.port }],
  ]);
  a.updatePeers(peers);
  b.updatePeers(peers);
}

describe.skipIf(!OPENSSL)('TcpTransport with mutual TLS', () => {
  it('delivers both ways between peers holding certificates for their ids', async () => {
    const a = await tlsNode(1, creds.n1 as Creds);
    const b = await tlsNode(2, creds.n2 as Creds);
    link(a.t, b.t);
    a.t.send([hb(1, 2, 1)]);
    b.t.send([hb(2, 1, 2)]);
    await waitFor(() => a.got.length === 1 && b.got.length === 1, 5000, 'TLS delivery');
    expect(b.got[0]?.index).toBe(1);
    expect(a.got[0]?.index).toBe(2);
  });

  it('rejects a peer whose certificate comes from another CA', async () => {
    const a = await tlsNode(1, creds.n1 as Creds);
    // The rogue trusts the real CA (so it would accept a's certificate) but its own is from another CA.
    const rogue = await tlsNode(2, { ...(creds.rogue2 as Creds), ca: (creds.n1 as Creds).ca });
    link(a.t, rogue.t);
    rogue.t.send([hb(2, 1, 7)]);
    await waitFor(() => (a.t.stats().errors.rejectTls ?? 0) >= 1, 5000, 'TLS rejection');
    await new Promise((r) => setTimeout(r, 200));
    expect(a.got).toEqual([]);
    // And a's dial to the rogue fails its certificate check too.
    a.t.send([hb(1, 2, 8)]);
    await waitFor(() => (a.t.stats().errors.connectError ?? 0) >= 1, 5000, 'client-side rejection');
    expect(rogue.got).toEqual([]);
  });

  it('rejects a valid certificate that names another node than the hello claims', async () => {
    const a = await tlsNode(1, creds.n1 as Creds);
    const impostor = await tlsNode(2, creds.n3 as Creds); // right CA, says "I am 2", cert says node-3
    link(a.t, impostor.t);
    impostor.t.send([hb(2, 1, 9)]);
    await waitFor(() => (a.t.stats().errors.rejectIdentity ?? 0) >= 1, 5000, 'identity rejection');
    expect(a.got).toEqual([]);
  });
});
