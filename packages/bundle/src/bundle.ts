import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { type Ed25519PublicJwk, importVerifyKey } from '@palisade/auth';
import { CompactSign, type CryptoKey, compactVerify } from 'jose';
import { z } from 'zod';

/**
 * A signed bundle file:
 *
 *   PALISADE-BUNDLE/1\n
 *   <compact JWS over the manifest JSON>\n
 *   <content bytes>
 *
 * The manifest carries the content's length and SHA-256, so verifying the JWS and then the hash
 * authenticates every byte. Nothing in the file is parsed before its signature checks out: the
 * manifest is read out of the verified JWS, the content only after its hash matches.
 */
const MAGIC = 'PALISADE-BUNDLE/1\n';
const MAX_JWS_BYTES = 64 * 1024;
const JWS_TYP = 'palisade-bundle+jws';

export const BundleKind = z.enum(['vulndb', 'policy', 'observations', 'config']);
export type BundleKind = z.infer<typeof BundleKind>;

export const BundleManifest = z.object({
  format: z.literal(1),
  kind: BundleKind,
  /** Who made it, e.g. "palisade-updater"; informational. */
  issuer: z.string().max(200),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime().optional(),
  /** Increases with every bundle of a kind from one issuer; importers refuse to go backwards. */
  sequence: z.number().int().nonnegative(),
  contentSha256: z.string().regex(/^[0-9a-f]{64}$/),
  contentBytes: z.number().int().nonnegative(),
  contentEncoding: z.enum(['identity', 'gzip']),
  /** Kind-specific facts (sources, counts, licences); small. */
  meta: z.record(z.string(), z.unknown()).default({}),
});
export type BundleManifest = z.infer<typeof BundleManifest>;

/** Why a bundle was refused; `code` is stable for callers and tests. */
export class BundleError extends Error {
  override name = 'BundleError';
  constructor(
    readonly code:
      | 'NOT_A_BUNDLE'
      | 'TRUNCATED'
      | 'BAD_SIGNATURE'
      | 'BAD_MANIFEST'
      | 'WRONG_KIND'
      | 'CONTENT_MISMATCH'
      | 'EXPIRED'
      | 'NOT_YET_VALID'
      | 'ROLLBACK',
    message: string,
  ) {
    super(message);
  }
}

export interface CreateBundleOptions {
  kind: BundleKind;
  issuer: string;
  sequence: number;
  content: Uint8Array;
  gzip?: boolean;
  createdAt?: Date;
  expiresAt?: Date;
  meta?: Record<string, unknown>;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Builds and signs a bundle with an Ed25519 private key. */
export async function createBundle(privateKey: CryptoKey, options: CreateBundleOptions): Promise<Buffer> {
  const content =
    options.gzip === false ? Buffer.from(options.content) : gzipSync(options.content, { level: 9 });
  const manifest: BundleManifest = {
    format: 1,
    kind: options.kind,
    issuer: options.issuer,
    createdAt: (options.createdAt ?? new Date()).toISOString(),
    ...(options.expiresAt ? { expiresAt: options.expiresAt.toISOString() } : {}),
    sequence: options.sequence,
    contentSha256: sha256(content),
    contentBytes: content.byteLength,
    contentEncoding: options.gzip === false ? 'identity' : 'gzip',
    meta: options.meta ?? {},
  };
  const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(BundleManifest.parse(manifest))))
    .setProtectedHeader({ alg: 'EdDSA', typ: JWS_TYP })
    .sign(privateKey);
  return Buffer.concat([Buffer.from(MAGIC), Buffer.from(jws), Buffer.from('\n'), content]);
}

export interface VerifyOptions {
  /** Public keys trusted to sign bundles; any one of them may have signed it. */
  trustedKeys: Ed25519PublicJwk[];
  expectKind: BundleKind;
  now?: Date;
  /** The last sequence imported for this kind: a bundle must be newer. */
  afterSequence?: number;
}

export interface VerifiedBundle {
  manifest: BundleManifest;
  /** The content, decompressed. */
  content: Buffer;
}

/**
 * Verifies a bundle and returns its manifest and content. Order matters: signature, then manifest
 * schema, kind, validity window and sequence, then the content hash; only then is content decoded.
 */
export async function verifyBundle(file: Uint8Array, options: VerifyOptions): Promise<VerifiedBundle> {
  const data = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (data.length < MAGIC.length || data.subarray(0, MAGIC.length).toString('latin1') !== MAGIC) {
    throw new BundleError('NOT_A_BUNDLE', 'not a Palisade bundle (bad magic)');
  }
  const newline = data.indexOf(0x0a, MAGIC.length);
  if (newline === -1 || newline - MAGIC.length > MAX_JWS_BYTES) {
    throw new BundleError(
      newline === -1 ? 'TRUNCATED' : 'NOT_A_BUNDLE',
      'bundle signature block is missing or too large',
    );
  }
  const jws = data.subarray(MAGIC.length, newline).toString('latin1');
  let payload: Uint8Array | undefined;
  for (const jwk of options.trustedKeys) {
    try {
      const key = await importVerifyKey(jwk);
      const verified = await compactVerify(jws, key, { algorithms: ['EdDSA'] });
      if (verified.protectedHeader.typ !== JWS_TYP) continue;
      payload = verified.payload;
      break;
    } catch {
      // try the next trusted key
    }
  }
  if (!payload)
    throw new BundleError('BAD_SIGNATURE', 'bundle signature does not verify with any trusted key');

  let manifest: BundleManifest;
  try {
    manifest = BundleManifest.parse(JSON.parse(new TextDecoder().decode(payload)));
  } catch {
    throw new BundleError('BAD_MANIFEST', 'bundle manifest is signed but malformed');
  }
  if (manifest.kind !== options.expectKind) {
    throw new BundleError('WRONG_KIND', `bundle holds ${manifest.kind}, expected ${options.expectKind}`);
  }
  const now = options.now ?? new Date();
  if (manifest.expiresAt && Date.parse(manifest.expiresAt) <= now.getTime()) {
    throw new BundleError('EXPIRED', `bundle expired at ${manifest.expiresAt}`);
  }
  // Five minutes of clock skew between the signer and us.
  if (Date.parse(manifest.createdAt) > now.getTime() + 5 * 60_000) {
    throw new BundleError('NOT_YET_VALID', `bundle was created in the future (${manifest.createdAt})`);
  }
  if (options.afterSequence !== undefined && manifest.sequence <= options.afterSequence) {
    throw new BundleError(
      'ROLLBACK',
      `bundle sequence ${manifest.sequence} is not newer than the installed ${options.afterSequence}`,
    );
  }
  const content = data.subarray(newline + 1);
  if (content.length !== manifest.contentBytes) {
    throw new BundleError(
      content.length < manifest.contentBytes ? 'TRUNCATED' : 'CONTENT_MISMATCH',
      `bundle content is ${content.length} bytes, the manifest says ${manifest.contentBytes}`,
    );
  }
  if (sha256(content) !== manifest.contentSha256) {
    throw new BundleError('CONTENT_MISMATCH', 'bundle content does not match its signed hash');
  }
  return {
    manifest,
    content: manifest.contentEncoding === 'gzip' ? gunzipSync(content) : Buffer.from(content),
  };
}

/** Reads the manifest without trusting it, for display (`bundle inspect`); never use it to decide. */
export function peekManifest(file: Uint8Array): unknown {
  const data = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const newline = data.indexOf(0x0a, MAGIC.length);
  const jws = data.subarray(MAGIC.length, newline === -1 ? undefined : newline).toString('latin1');
  const part = jws.split('.')[1] ?? '';
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
}
