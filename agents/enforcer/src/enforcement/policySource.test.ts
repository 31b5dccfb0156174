import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningJwks, importSigningKeyPair, signPolicy } from '@palisade/auth';
import { type ClusterPolicy, initialPolicy } from '@palisade/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HubKey, PolicySource } from './policySource.js';

const dir = mkdtempSync(join(tmpdir(), 'palisade-policy-source-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let hub: Awaited<ReturnType<typeof importSigningKeyPair>>;
let hubKey: HubKey;
let stranger: Awaited<ReturnType<typeof importSigningKeyPair>>;
beforeAll(async () => {
  const jwks = await generateSigningJwks();
  hub = await importSigningKeyPair(jwks.privateJwk);
  hubKey = jwks.publicJwk;
  stranger = await importSigningKeyPair((await generateSigningJwks()).privateJwk);
});

const policy = (revision: number, cluster = 'prod'): ClusterPolicy => ({
  ...initialPolicy(cluster),
  revision,
  defaults: { modes: { process: 'protect', file: 'monitor', network: 'discover' } },
});
const envelope = (p: ClusterPolicy) => ({
  v: 1,
  cluster: p.cluster,
  revision: p.revision,
  issuedAt: new Date().toISOString(),
  policy: p,
});

function source(stateDir = dir) {
  const applied: number[] = [];
  const rejected: string[] = [];
  const s = new PolicySource(
    'prod',
    hubKey,
    stateDir,
    () => {},
    (p) => applied.push(p.revision),
    (r) => rejected.push(r),
  );
  return { s, applied, rejected };
}

describe('PolicySource', () => {
  it('applies a policy signed by the hub, caches it, and enforces the cache after a restart', async () => {
    const { s, applied } = source();
    expect(await s.accept(await signPolicy(envelope(policy(3)), hub.privateKey), 'hub')).toBe(true);
    expect(applied).toEqual([3]);
    expect(readFileSync(join(dir, 'policy.jws'), 'utf8')).toContain('.');
    const restarted = source();
    await restarted.s.loadCached();
    expect(restarted.applied).toEqual([3]);
    expect(restarted.s.policy?.defaults.modes.process).toBe('protect');
  });

  it('refuses forged, foreign, malformed and older policies and keeps the current one', async () => {
    const { s, applied, rejected } = source(mkdtempSync(join(dir, 'x-')));
    await s.accept(await signPolicy(envelope(policy(5)), hub.privateKey), 'hub');
    // Signed by another key.
    expect(await s.accept(await signPolicy(envelope(policy(6)), stranger.privateKey), 'hub')).toBe(false);
    // A valid signature over a tampered payload.
    const good = await signPolicy(envelope(policy(7)), hub.privateKey);
    const [h, , sig] = good.split('.');
    // The attacker's change: everything back to Discover (the payload must differ from the signed one).
    const weakened: ClusterPolicy = {
      ...policy(7),
      defaults: { modes: { process: 'discover', file: 'discover', network: 'discover' } },
    };
    const tampered = Buffer.from(JSON.stringify(envelope(weakened))).toString('base64url');
    expect(tampered).not.toBe(good.split('.')[1]);
    expect(await s.accept(`${h}.${tampered}.${sig}`, 'hub')).toBe(false);
    // Not a JWS at all.
    expect(await s.accept('{"v":1}', 'hub')).toBe(false);
    // Signed by the hub, but for another cluster, or not a valid policy.
    expect(await s.accept(await signPolicy(envelope(policy(8, 'staging')), hub.privateKey), 'hub')).toBe(
      false,
    );
    const invalid = {
      ...envelope(policy(9)),
      policy: { ...policy(9), defaults: { modes: { process: 'block' } } },
    };
    expect(await s.accept(await signPolicy(invalid, hub.privateKey), 'hub')).toBe(false);
    // Older than what is enforced: ignored.
    expect(await s.accept(await signPolicy(envelope(policy(4)), hub.privateKey), 'hub')).toBe(false);
    expect(applied).toEqual([5]);
    expect(s.policy?.revision).toBe(5);
    expect(rejected).toHaveLength(5);
    expect(rejected.join('\n')).toMatch(/signature/);
    expect(rejected.join('\n')).toMatch(/cluster "staging"/);
    expect(rejected.join('\n')).toMatch(/invalid signed policy/);
  });

  it('does not trust a tampered cache file', async () => {
    const stateDir = mkdtempSync(join(dir, 'c-'));
    writeFileSync(join(stateDir, 'policy.jws'), await signPolicy(envelope(policy(2)), stranger.privateKey));
    const { s, applied, rejected } = source(stateDir);
    await s.loadCached();
    expect(applied).toEqual([]);
    expect(rejected[0]).toMatch(/cache/);
  });
});
