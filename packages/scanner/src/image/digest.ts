import { createHash, type Hash } from 'node:crypto';
import { ImageError } from './types.js';

/** Digest algorithms this module can verify (OCI image-spec "Digests": sha256, sha512). */
const ALGORITHMS: Record<string, { node: string; hexLength: number }> = {
  sha256: { node: 'sha256', hexLength: 64 },
  sha512: { node: 'sha512', hexLength: 128 },
};

export interface ParsedDigest {
  algorithm: string;
  hex: string;
}

/**
 * Parses and validates `algorithm:hex`. Only lowercase hex of the algorithm's exact length is
 * accepted, so a digest is always safe to use as a file name component.
 */
export function parseDigest(digest: unknown, what = 'digest'): ParsedDigest {
  if (typeof digest !== 'string') throw new ImageError('invalid-manifest', `${what} is not a string`);
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  const spec = ALGORITHMS[algorithm];
  if (colon <= 0 || !spec) {
    throw new ImageError('unsupported', `${what} "${digest.slice(0, 80)}": unsupported digest algorithm`);
  }
  if (hex.length !== spec.hexLength || !/^[0-9a-f]+$/.test(hex)) {
    throw new ImageError(
      'invalid-manifest',
      `${what} "${digest.slice(0, 150)}" is not a valid ${algorithm} digest`,
    );
  }
  return { algorithm, hex };
}

export function isDigest(value: string): boolean {
  try {
    parseDigest(value);
    return true;
  } catch {
    return false;
  }
}

export function newHash(algorithm: string): Hash {
  const spec = ALGORITHMS[algorithm];
  if (!spec) throw new ImageError('unsupported', `unsupported digest algorithm ${algorithm}`);
  return createHash(spec.node);
}

export function digestOf(data: Uint8Array, algorithm = 'sha256'): string {
  return `${algorithm}:${newHash(algorithm).update(data).digest('hex')}`;
}

/** Throws a digest-mismatch error unless `data` hashes to `expected`. */
export function verifyBytes(data: Uint8Array, expected: string, what: string): void {
  const { algorithm } = parseDigest(expected, `${what} digest`);
  const actual = digestOf(data, algorithm);
  if (actual !== expected) throw mismatch(what, expected, actual);
}

export function mismatch(what: string, expected: string, actual: string): ImageError {
  return new ImageError(
    'digest-mismatch',
    `digest mismatch for ${what}: expected ${expected}, got ${actual} (content was altered or corrupted)`,
  );
}

/**
 * Passes a blob through while hashing and counting it. Fails as soon as more than `size` bytes
 * arrive, and at the end unless exactly `size` bytes with digest `digest` were seen.
 * `size` may be undefined when the source states no size (docker save legacy layers).
 */
export async function* verifyStream(
  source: AsyncIterable<Buffer>,
  expected: { digest: string; size?: number | undefined },
  what: string,
): AsyncGenerator<Buffer> {
  const { algorithm } = parseDigest(expected.digest, `${what} digest`);
  const hash = newHash(algorithm);
  let seen = 0;
  for await (const chunk of source) {
    seen += chunk.length;
    if (expected.size !== undefined && seen > expected.size) {
      throw new ImageError('size-mismatch', `${what} is larger than its stated size ${expected.size}`);
    }
    hash.update(chunk);
    yield chunk;
  }
  if (expected.size !== undefined && seen !== expected.size) {
    throw new ImageError(
      'size-mismatch',
      `${what} is ${seen} bytes, its descriptor says ${expected.size} (truncated or altered)`,
    );
  }
  const actual = `${algorithm}:${hash.digest('hex')}`;
  if (actual !== expected.digest) throw mismatch(what, expected.digest, actual);
}
