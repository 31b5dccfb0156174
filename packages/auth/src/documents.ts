import { CompactSign, type CryptoKey, compactVerify } from 'jose';

/** The JWS `typ` of a signed cluster policy, so no other signed object can pass as one. */
export const POLICY_JWS_TYPE = 'palisade-policy+jws';

const MAX_POLICY_JWS_BYTES = 4 * 1024 * 1024;

/** Signs a policy payload (JSON) with the hub's key as a compact JWS. */
export async function signPolicy(payload: unknown, key: CryptoKey): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'EdDSA', typ: POLICY_JWS_TYPE })
    .sign(key);
}

/**
 * Verifies a signed policy and only then returns its payload, parsed as JSON (the caller validates
 * its shape). Throws on a bad signature, another `typ`, an oversized message or a non-JSON payload.
 */
export async function verifyPolicy(jws: string, key: CryptoKey): Promise<unknown> {
  if (jws.length > MAX_POLICY_JWS_BYTES) throw new Error('signed policy is too large');
  const { payload, protectedHeader } = await compactVerify(jws, key, { algorithms: ['EdDSA'] });
  if (protectedHeader.typ !== POLICY_JWS_TYPE) {
    throw new Error(`signed object is a ${String(protectedHeader.typ)}, not a policy`);
  }
  return JSON.parse(new TextDecoder().decode(payload));
}
