import { generateSigningJwks, importSigningKeyPair } from '@palisade/auth';
import { describe, expect, it } from 'vitest';
import { BundleError, createBundle, peekManifest, verifyBundle } from './index.js';

async function signer() {
  const jwks = await generateSigningJwks();
  return { ...jwks, keys: await importSigningKeyPair(jwks.privateJwk) };
}

const content = Buffer.from(JSON.stringify({ hello: 'world', n: [1, 2, 3] }));

async function refusal(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BundleError);
  return (err as BundleError).code;
}

describe('signed bundles', () => {
  it('round-trips content and manifest', async () => {
    const s = await signer();
    const file = await createBundle(s.keys.privateKey, {
      kind: 'vulndb',
      issuer: 'test',
      sequence: 7,
      content,
      meta: { sources: 3 },
    });
    const { manifest, content: out } = await verifyBundle(file, {
      trustedKeys: [s.publicJwk],
      expectKind: 'vulndb',
    });
    expect(out.equals(content)).toBe(true);
    expect(manifest).toMatchObject({
      kind: 'vulndb',
      sequence: 7,
      contentEncoding: 'gzip',
      meta: { sources: 3 },
    });
  });

  it('accepts any one of several trusted keys', async () => {
    const [a, b] = [await signer(), await signer()];
    const file = await createBundle(b.keys.privateKey, { kind: 'policy', issuer: 't', sequence: 1, content });
    const verified = await verifyBundle(file, {
      trustedKeys: [a.publicJwk, b.publicJwk],
      expectKind: 'policy',
    });
    expect(verified.content.equals(content)).toBe(true);
  });

  it('refuses a bundle signed by an untrusted key', async () => {
    const [ours, theirs] = [await signer(), await signer()];
    const file = await createBundle(theirs.keys.privateKey, {
      kind: 'vulndb',
      issuer: 't',
      sequence: 1,
      content,
    });
    expect(await refusal(verifyBundle(file, { trustedKeys: [ours.publicJwk], expectKind: 'vulndb' }))).toBe(
      'BAD_SIGNATURE',
    );
  });

  it('refuses tampered content, a tampered manifest and truncation', async () => {
    const s = await signer();
    const file = await createBundle(s.keys.privateKey, { kind: 'vulndb', issuer: 't', sequence: 1, content });
    const opts = { trustedKeys: [s.publicJwk], expectKind: 'vulndb' as const };

    const flipped = Buffer.from(file);
    flipped[flipped.length - 5] = (flipped[flipped.length - 5] as number) ^ 0xff;
    expect(await refusal(verifyBundle(flipped, opts))).toBe('CONTENT_MISMATCH');

    const jwsStart = 'PALISADE-BUNDLE/1\n'.length;
    const forgedManifest = Buffer.from(file);
    forgedManifest[jwsStart + 40] = forgedManifest[jwsStart + 40] === 0x41 ? 0x42 : 0x41;
    expect(await refusal(verifyBundle(forgedManifest, opts))).toBe('BAD_SIGNATURE');

    expect(await refusal(verifyBundle(file.subarray(0, file.length - 3), opts))).toBe('TRUNCATED');
    expect(await refusal(verifyBundle(file.subarray(0, jwsStart + 10), opts))).toBe('TRUNCATED');
    expect(await refusal(verifyBundle(Buffer.concat([file, Buffer.from('x')]), opts))).toBe(
      'CONTENT_MISMATCH',
    );
    expect(await refusal(verifyBundle(Buffer.from('GIF89a...'), opts))).toBe('NOT_A_BUNDLE');
  });

  it('refuses the wrong kind, expired bundles and rollbacks', async () => {
    const s = await signer();
    const now = new Date('2026-11-23T12:00:00Z');
    const file = await createBundle(s.keys.privateKey, {
      kind: 'vulndb',
      issuer: 't',
      sequence: 5,
      content,
      createdAt: now,
      expiresAt: new Date(now.getTime() + 3600_000),
    });
    const base = { trustedKeys: [s.publicJwk], now };
    expect(await refusal(verifyBundle(file, { ...base, expectKind: 'policy' }))).toBe('WRONG_KIND');
    expect(
      await refusal(
        verifyBundle(file, { ...base, expectKind: 'vulndb', now: new Date(now.getTime() + 7200_000) }),
      ),
    ).toBe('EXPIRED');
    expect(await refusal(verifyBundle(file, { ...base, expectKind: 'vulndb', afterSequence: 5 }))).toBe(
      'ROLLBACK',
    );
    expect(
      await refusal(
        verifyBundle(file, { ...base, expectKind: 'vulndb', now: new Date('2026-01-01T00:00:00Z') }),
      ),
    ).toBe('NOT_YET_VALID');
    await expect(
      verifyBundle(file, { ...base, expectKind: 'vulndb', afterSequence: 4 }),
    ).resolves.toBeDefined();
  });

  it('lets a reader peek at the manifest for display only', async () => {
    const s = await signer();
    const file = await createBundle(s.keys.privateKey, {
      kind: 'config',
      issuer: 'me',
      sequence: 2,
      content,
    });
    expect(peekManifest(file)).toMatchObject({ kind: 'config', issuer: 'me', sequence: 2 });
  });
});
