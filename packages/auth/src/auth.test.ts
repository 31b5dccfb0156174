import { ProtocolError } from '@palisade/protocol';
import { describe, expect, it } from 'vitest';
import {
  can,
  canOn,
  FailureRateLimiter,
  filterByScope,
  generatePassword,
  generateSigningJwks,
  hashPassword,
  importSigningKeyPair,
  issueAgentCredential,
  issueJoinToken,
  issueSession,
  type Principal,
  signPolicy,
  verifyAgentCredential,
  verifyJoinToken,
  verifyPassword,
  verifyPolicy,
  verifySession,
} from './index.js';

async function keyPair() {
  return importSigningKeyPair((await generateSigningJwks()).privateJwk);
}

async function expectCode(promise: Promise<unknown>, code: string) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProtocolError);
  expect((err as ProtocolError).code).toBe(code);
}

describe('join tokens', () => {
  const jti = 'j0123456789abcdef';

  it('verifies a fresh token and returns its cluster', async () => {
    const keys = await keyPair();
    const token = await issueJoinToken(keys.privateKey, {
      cluster: 'local',
      jti,
      expiresAt: new Date(Date.now() + 60_000),
    });
    const claims = await verifyJoinToken(token, keys.publicKey, { expectedCluster: 'local' });
    expect(claims.sub).toBe('local');
    expect(claims.jti).toBe(jti);
  });

  it('refuses an expired token', async () => {
    const keys = await keyPair();
    const now = new Date('2026-01-01T00:00:00Z');
    const token = await issueJoinToken(
      keys.privateKey,
      { cluster: 'local', jti, expiresAt: new Date(now.getTime() + 60_000) },
      now,
    );
    await expectCode(
      verifyJoinToken(token, keys.publicKey, { now: new Date(now.getTime() + 120_000) }),
      'TOKEN_EXPIRED',
    );
  });

  it('refuses a token for another cluster', async () => {
    const keys = await keyPair();
    const token = await issueJoinToken(keys.privateKey, {
      cluster: 'prod',
      jti,
      expiresAt: new Date(Date.now() + 60_000),
    });
    await expectCode(
      verifyJoinToken(token, keys.publicKey, { expectedCluster: 'local' }),
      'TOKEN_WRONG_CLUSTER',
    );
  });

  it('refuses a token signed by another key', async () => {
    const [ours, theirs] = [await keyPair(), await keyPair()];
    const token = await issueJoinToken(theirs.privateKey, {
      cluster: 'local',
      jti,
      expiresAt: new Date(Date.now() + 60_000),
    });
    await expectCode(verifyJoinToken(token, ours.publicKey), 'TOKEN_INVALID');
  });

  it('refuses a tampered payload', async () => {
    const keys = await keyPair();
    const token = await issueJoinToken(keys.privateKey, {
      cluster: 'local',
      jti,
      expiresAt: new Date(Date.now() + 60_000),
    });
    const [h, , s] = token.split('.');
    const forged = Buffer.from(
      JSON.stringify({ sub: 'prod', jti, exp: 9e9, iat: 1, iss: 'palisade-hub', aud: 'palisade:enroll' }),
    ).toString('base64url');
    await expectCode(verifyJoinToken(`${h}.${forged}.${s}`, keys.publicKey), 'TOKEN_INVALID');
  });

  it('cannot be used as a session or agent credential, nor they as a join token', async () => {
    const keys = await keyPair();
    const join = await issueJoinToken(keys.privateKey, {
      cluster: 'local',
      jti,
      expiresAt: new Date(Date.now() + 60_000),
    });
    await expectCode(verifySession(join, keys.publicKey), 'UNAUTHORIZED');
    await expectCode(verifyAgentCredential(join, keys.publicKey), 'UNAUTHORIZED');
    const agent = await issueAgentCredential(keys.privateKey, { cluster: 'local', nodeId: 'n-abcdef12' });
    await expectCode(verifyJoinToken(agent, keys.publicKey), 'TOKEN_INVALID');
  });
});

describe('agent credentials and sessions', () => {
  it('carry their cluster, node and user claims', async () => {
    const keys = await keyPair();
    const agent = await verifyAgentCredential(
      await issueAgentCredential(keys.privateKey, { cluster: 'edge', nodeId: 'n-0011aabb' }),
      keys.publicKey,
    );
    expect(agent).toMatchObject({ sub: 'n-0011aabb', cluster: 'edge' });
    const { token } = await issueSession(keys.privateKey, {
      id: 'u1',
      username: 'alice',
      role: 'cluster-admin',
      scope: { all: false, clusters: ['edge'] },
    });
    expect(await verifySession(token, keys.publicKey)).toMatchObject({ sub: 'u1', role: 'cluster-admin' });
  });

  it('expires sessions', async () => {
    const keys = await keyPair();
    const now = new Date('2026-01-01T00:00:00Z');
    const { token } = await issueSession(
      keys.privateKey,
      { id: 'u1', username: 'a', role: 'admin', scope: { all: true } },
      now,
    );
    await expectCode(
      verifySession(token, keys.publicKey, new Date(now.getTime() + 9 * 3600_000)),
      'UNAUTHORIZED',
    );
  });
});

describe('passwords', () => {
  it('verifies the right password and refuses others', async () => {
    const hash = await hashPassword('correct horse');
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('correct horsf', hash)).toBe(false);
    expect(await verifyPassword('correct horse', undefined)).toBe(false);
    expect(await verifyPassword('x', 'garbage')).toBe(false);
  });

  it('salts every hash', async () => {
    expect(await hashPassword('same')).not.toBe(await hashPassword('same'));
  });

  it('generates long passwords from the unambiguous alphabet', () => {
    const pw = generatePassword();
    expect(pw).toHaveLength(24);
    expect(pw).toMatch(/^[A-HJ-NP-Za-km-z2-9]+$/);
    expect(generatePassword()).not.toBe(pw);
  });
});

describe('permissions', () => {
  const admin: Principal = { userId: '1', username: 'root', role: 'admin', scope: { all: true } };
  const edgeAdmin: Principal = {
    userId: '2',
    username: 'e',
    role: 'cluster-admin',
    scope: { all: false, clusters: ['edge'] },
  };
  const viewer: Principal = { userId: '3', username: 'v', role: 'viewer', scope: { all: true } };
  const scopedGlobalAdmin: Principal = {
    userId: '4',
    username: 's',
    role: 'admin',
    scope: { all: false, clusters: ['edge'] },
  };

  it('lets global admins do everything', () => {
    expect(can(admin, 'cluster.create')).toBe(true);
    expect(can(admin, 'cluster.token.create', 'prod')).toBe(true);
  });

  it('limits cluster admins to their clusters and to cluster permissions', () => {
    expect(can(edgeAdmin, 'cluster.token.create', 'edge')).toBe(true);
    expect(can(edgeAdmin, 'cluster.token.create', 'prod')).toBe(false);
    expect(can(edgeAdmin, 'cluster.create')).toBe(false);
    expect(can(scopedGlobalAdmin, 'cluster.create')).toBe(false);
  });

  it('lets viewers read but not write', () => {
    expect(can(viewer, 'node.read', 'prod')).toBe(true);
    expect(can(viewer, 'cluster.token.create', 'prod')).toBe(false);
    expect(can(viewer, 'cluster.token.read', 'prod')).toBe(false);
  });

  it('denies cluster permissions without a cluster and unknown permissions', () => {
    expect(can(admin, 'node.read')).toBe(false);
    expect(can(admin, 'cluster.delete' as never, 'edge')).toBe(false);
  });

  it('needs an all-clusters scope for hub-wide objects', () => {
    expect(canOn(admin, 'vulnerability.read', null)).toBe(true);
    expect(canOn(viewer, 'vulnerability.read', null)).toBe(true);
    expect(canOn(edgeAdmin, 'vulnerability.read', null)).toBe(false);
    expect(canOn(edgeAdmin, 'vulnerability.read', 'edge')).toBe(true);
    expect(canOn(viewer, 'image.scan', null)).toBe(false);
  });

  it('filters lists to the scope', () => {
    const items = [{ c: 'edge' }, { c: 'prod' }];
    expect(filterByScope(edgeAdmin, 'cluster.read', items, (i) => i.c)).toEqual([{ c: 'edge' }]);
    expect(filterByScope(admin, 'cluster.read', items, (i) => i.c)).toHaveLength(2);
  });
});

describe('failure rate limiter', () => {
  it('allows free attempts, then backs off exponentially, and forgets on success', () => {
    const limiter = new FailureRateLimiter({
      freeAttempts: 3,
      baseDelayMs: 1000,
      maxDelayMs: 8000,
      forgetAfterMs: 60_000,
    });
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterMs('k', 0)).toBe(0);
      limiter.recordFailure('k', 0);
    }
    expect(limiter.retryAfterMs('k', 0)).toBe(1000);
    limiter.recordFailure('k', 1000);
    expect(limiter.retryAfterMs('k', 1000)).toBe(2000);
    for (let i = 0; i < 10; i++) limiter.recordFailure('k', 2000);
    expect(limiter.retryAfterMs('k', 2000)).toBe(8000);
    expect(limiter.retryAfterMs('other', 2000)).toBe(0);
    limiter.recordSuccess('k');
    expect(limiter.retryAfterMs('k', 2000)).toBe(0);
  });
});

describe('signed policies', () => {
  it('verify with the hub key only, and refuse other signed objects and tampering', async () => {
    const hub = await importSigningKeyPair((await generateSigningJwks()).privateJwk);
    const other = await importSigningKeyPair((await generateSigningJwks()).privateJwk);
    const jws = await signPolicy({ v: 1, revision: 3 }, hub.privateKey);
    expect(await verifyPolicy(jws, hub.publicKey)).toEqual({ v: 1, revision: 3 });
    await expect(verifyPolicy(jws, other.publicKey)).rejects.toThrow(/signature/);
    const [h, p, s] = jws.split('.');
    const forged = Buffer.from(JSON.stringify({ v: 1, revision: 4 })).toString('base64url');
    await expect(verifyPolicy(`${h}.${forged}.${s}`, hub.publicKey)).rejects.toThrow(/signature/);
    expect(p).toBeTruthy();
    // A session JWT is signed by the same key but is not a policy.
    const { token: session } = await issueSession(hub.privateKey, {
      id: 'u-1',
      username: 'a',
      role: 'admin',
      scope: { all: true },
    });
    await expect(verifyPolicy(session, hub.publicKey)).rejects.toThrow(/not a policy/);
  });
});
