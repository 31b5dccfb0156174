import { importVerifyKey, type Principal, verifySession } from '@palisade/auth';
import type { CryptoKey } from 'jose';
import type { ControllerClient } from './controllerClient.js';

export const SESSION_COOKIE = 'palisade_session';

/**
 * Verifies session JWTs locally with the controllers' public key, fetched once and cached, so the
 * console stays stateless and a request costs no round trip.
 */
export class SessionVerifier {
  private key: Promise<CryptoKey> | undefined;

  constructor(private readonly controller: ControllerClient) {}

  private verifyKey(): Promise<CryptoKey> {
    this.key ??= this.controller.call({ op: 'auth.sessionKey' }).then((r) => importVerifyKey(r.jwk));
    // A failed fetch must not be cached forever.
    this.key.catch(() => {
      this.key = undefined;
    });
    return this.key;
  }

  /** The principal for a session token, or null when it is missing, invalid or expired. */
  async principal(token: string | undefined): Promise<Principal | null> {
    if (!token) return null;
    let key: CryptoKey;
    try {
      key = await this.verifyKey();
    } catch {
      return null;
    }
    try {
      const claims = await verifySession(token, key);
      return { userId: claims.sub, username: claims.username, role: claims.role, scope: claims.scope };
    } catch {
      return null;
    }
  }
}

export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

export function sessionCookie(token: string, expiresAt: Date, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${encodeURIComponent(token)}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Expires=${expiresAt.toUTCString()}`,
    secure ? 'Secure' : '',
  ]
    .filter(Boolean)
    .join('; ');
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
}
