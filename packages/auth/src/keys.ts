import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { z } from 'zod';

export const Ed25519PublicJwk = z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string() });
export const Ed25519PrivateJwk = Ed25519PublicJwk.extend({ d: z.string() });
export type Ed25519PublicJwk = z.infer<typeof Ed25519PublicJwk>;
export type Ed25519PrivateJwk = z.infer<typeof Ed25519PrivateJwk>;

export interface SigningKeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

/** A fresh Ed25519 key pair, exported as JWKs so it can be stored in desired state. */
export async function generateSigningJwks(): Promise<{
  privateJwk: Ed25519PrivateJwk;
  publicJwk: Ed25519PublicJwk;
}> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const privateJwk = Ed25519PrivateJwk.parse(await exportJWK(privateKey));
  const { d: _secret, ...publicJwk } = privateJwk;
  return { privateJwk, publicJwk };
}

export async function importSigningKeyPair(privateJwk: Ed25519PrivateJwk): Promise<SigningKeyPair> {
  const { d: _secret, ...publicJwk } = privateJwk;
  return {
    privateKey: (await importJWK({ ...privateJwk, alg: 'EdDSA' } as JWK, 'EdDSA')) as CryptoKey,
    publicKey: await importVerifyKey(publicJwk),
  };
}

export async function importVerifyKey(publicJwk: Ed25519PublicJwk): Promise<CryptoKey> {
  return (await importJWK(
    { ...Ed25519PublicJwk.parse(publicJwk), alg: 'EdDSA' } as JWK,
    'EdDSA',
  )) as CryptoKey;
}
