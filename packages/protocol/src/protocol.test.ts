import { describe, expect, it } from 'vitest';
import {
  ControllerRequest,
  decode,
  EnrollRequest,
  encode,
  InventoryScanRequest,
  MAX_MESSAGE_BYTES,
  Observation,
  parseInventorySubject,
  parseObservationSubject,
  subjects,
} from './index.js';

const node = {
  hostname: 'edge-1',
  kernel: '6.1.0-18-amd64',
  arch: 'x64',
  os: { id: 'debian', name: 'Debian GNU/Linux', version: '12' },
  containerRuntime: null,
  agentVersion: '0.1.0',
};
const jwt = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJsb2NhbCJ9.c2lnbmF0dXJl';

describe('codec', () => {
  it('round-trips a valid enrollment request', () => {
    const request = { v: 1, token: jwt, expectedCluster: 'local', node };
    const decoded = decode(EnrollRequest, encode(request));
    expect(decoded).toEqual({ ok: true, value: request });
  });

  it('rejects bytes that are not JSON without throwing', () => {
    const decoded = decode(EnrollRequest, new Uint8Array([0x7b, 0xff, 0x00]));
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.error).toMatch(/not valid UTF-8 JSON/);
  });

  it('names the offending field on a schema mismatch', () => {
    const decoded = decode(EnrollRequest, encode({ v: 1, token: 'nope', node }));
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.error).toContain('token');
  });

  it('rejects an unknown protocol version', () => {
    expect(decode(EnrollRequest, encode({ v: 2, token: jwt, node })).ok).toBe(false);
  });

  it('rejects oversized messages before parsing them', () => {
    const decoded = decode(EnrollRequest, new Uint8Array(MAX_MESSAGE_BYTES + 1));
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.error).toMatch(/limit/);
  });
});

describe('observations', () => {
  const base = { v: 1, credential: jwt, sentAt: '2026-11-23T10:00:00.000Z' };

  it('accepts each kind with its own body', () => {
    expect(
      Observation.safeParse({ ...base, kind: 'heartbeat', body: { seq: 3, uptimeSeconds: 12 } }).success,
    ).toBe(true);
    expect(Observation.safeParse({ ...base, kind: 'node', body: node }).success).toBe(true);
    const workload = {
      id: 'abc',
      name: 'web',
      image: 'docker.io/library/nginx:1.27',
      runtimeNamespace: 'default',
      state: 'running',
      labels: { app: 'web' },
    };
    expect(
      Observation.safeParse({ ...base, kind: 'workloads', body: { workloads: [workload] } }).success,
    ).toBe(true);
  });

  it('refuses a body that belongs to another kind', () => {
    expect(Observation.safeParse({ ...base, kind: 'heartbeat', body: node }).success).toBe(false);
  });

  it('builds and parses observation subjects', () => {
    const subject = subjects.observation('local', 'n-abcdef12', 'heartbeat');
    expect(parseObservationSubject(subject)).toEqual({
      cluster: 'local',
      nodeId: 'n-abcdef12',
      kind: 'heartbeat',
    });
    expect(parseObservationSubject('palisade.v1.obs.local.n-abcdef12.secrets')).toBeNull();
    expect(parseObservationSubject('palisade.v1.obs.Local.n-abcdef12.node')).toBeNull();
    expect(parseObservationSubject('palisade.v1.obs.local.node')).toBeNull();
  });
});

describe('controller requests', () => {
  const actor = { userId: 'u1', username: 'admin' };

  it('applies defaults for a new cluster', () => {
    const parsed = ControllerRequest.parse({ op: 'cluster.create', actor, name: 'prod-eu' });
    expect(parsed).toEqual({ op: 'cluster.create', actor, name: 'prod-eu', description: '', labels: {} });
  });

  it.each(['', 'Prod', 'a.b', 'a*', '-lead', 'trail-', 'x'.repeat(41)])('refuses cluster name %j', (name) => {
    expect(ControllerRequest.safeParse({ op: 'cluster.create', actor, name }).success).toBe(false);
  });

  it('bounds join-token lifetimes', () => {
    expect(
      ControllerRequest.safeParse({ op: 'token.create', actor, cluster: 'a', ttlSeconds: 30 }).success,
    ).toBe(false);
    expect(
      ControllerRequest.safeParse({ op: 'token.create', actor, cluster: 'a', ttlSeconds: 3600 }).success,
    ).toBe(true);
  });

  it('refuses an unknown operation', () => {
    expect(ControllerRequest.safeParse({ op: 'cluster.drop', actor }).success).toBe(false);
  });
});

describe('scan messages', () => {
  const inventory = {
    os: { id: 'alpine', versionId: '3.11.6', name: 'Alpine Linux v3.11', family: 'alpine' },
    packages: [
      {
        name: 'musl',
        version: '1.1.24-r2',
        ecosystem: 'Alpine',
        sourceName: 'musl',
        purl: 'pkg:apk/alpine/musl@1.1.24-r2?arch=x86_64',
        locations: ['/lib/apk/db/installed'],
      },
    ],
  };

  it('accepts an agent inventory and refuses unknown ecosystems', () => {
    const request = {
      v: 1,
      credential: jwt,
      sentAt: '2026-11-23T10:00:00.000Z',
      workload: { containerId: 'abc', image: 'alpine:3.11' },
      inventory,
    };
    expect(InventoryScanRequest.safeParse(request).success).toBe(true);
    const bad = structuredClone(request);
    (bad.inventory.packages[0] as { ecosystem: string }).ecosystem = 'Homebrew';
    expect(InventoryScanRequest.safeParse(bad).success).toBe(false);
  });

  it('builds and parses inventory subjects', () => {
    expect(parseInventorySubject(subjects.inventory('edge', 'n-0011aabb'))).toEqual({
      cluster: 'edge',
      nodeId: 'n-0011aabb',
    });
    expect(parseInventorySubject('palisade.v1.scan.inventory.edge.node-1')).toBeNull();
    expect(parseInventorySubject('palisade.v1.scan.request')).toBeNull();
  });
});
