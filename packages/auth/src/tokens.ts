import { ClusterName, NodeId, ProtocolError, Role, Scope } from '@palisade/protocol';
import { type CryptoKey, errors, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';

/**
 * Three kinds of JWT, each with its own `typ` header and audience so one can never be replayed as
 * another (a join token is not a session, a session is not an agent credential).
 */
export const ISSUER = 'palisade-hub';
const JOIN = { typ: 'palisade-join+jwt', aud: 'palisade:enroll' } as const;
const AGENT = { typ: 'palisade-agent+jwt', aud: 'palisade:agent' } as const;
const SESSION = { typ: 'palisade-session+jwt', aud: 'palisade:console' } as const;
export const SESSION_AUDIENCE = SESSION.aud;

/** Clock skew we tolerate between hub processes. */
const CLOCK_TOLERANCE_S = 5;

const JoinClaims = z.object({
  sub: ClusterName,
  jti: z.string().min(16).max(64),
  exp: z.number(),
  iat: z.number(),
});
export type JoinClaims = z.infer<typeof JoinClaims>;

const AgentClaims = z.object({ sub: NodeId, cluster: ClusterName, iat: z.number() });
export type AgentClaims = z.infer<typeof AgentClaims>;

const SessionClaims = z.object({
  sub: z.string().min(1),
  username: z.string(),
  role: Role,
  scope: Scope,
  exp: z.number(),
});
export type SessionClaims = z.infer<typeof SessionClaims>;

function sign(payload: JWTPayload, kind: { typ: string; aud: string }, now: Date) {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'EdDSA', typ: kind.typ })
    .setIssuer(ISSUER)
    .setAudience(kind.aud)
    .setIssuedAt(Math.floor(now.getTime() / 1000));
}

async function verify(
  token: string,
  kind: { typ: string; aud: string },
  key: CryptoKey,
  now: Date,
  invalidCode: 'TOKEN_INVALID' | 'UNAUTHORIZED',
): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ['EdDSA'],
      issuer: ISSUER,
      audience: kind.aud,
      typ: kind.typ,
      currentDate: now,
      clockTolerance: CLOCK_TOLERANCE_S,
    });
    return payload;
  } catch (err) {
    if (err instanceof errors.JWTExpired) {
      throw new ProtocolError(
        invalidCode === 'TOKEN_INVALID' ? 'TOKEN_EXPIRED' : 'UNAUTHORIZED',
        'token has expired',
      );
    }
    throw new ProtocolError(invalidCode, 'token is not valid (bad signature, wrong type or malformed)');
  }
}

export async function issueJoinToken(
  key: CryptoKey,
  claims: { cluster: string; jti: string; expiresAt: Date },
  now = new Date(),
): Promise<string> {
  return sign({}, JOIN, now)
    .setSubject(claims.cluster)
    .setJti(claims.jti)
    .setExpirationTime(Math.floor(claims.expiresAt.getTime() / 1000))
    .sign(key);
}

/**
 * Checks signature, type, audience, expiry and (when given) the cluster the operator expected.
 * Whether the token was already used or revoked is desired state: the controller checks that.
 */
export async function verifyJoinToken(
  token: string,
  key: CryptoKey,
  options: { now?: Date; expectedCluster?: string | undefined } = {},
): Promise<JoinClaims> {
  const payload = await verify(token, JOIN, key, options.now ?? new Date(), 'TOKEN_INVALID');
  const claims = JoinClaims.safeParse(payload);
  if (!claims.success) throw new ProtocolError('TOKEN_INVALID', 'join token claims are malformed');
  if (options.expectedCluster !== undefined && claims.data.sub !== options.expectedCluster) {
    throw new ProtocolError(
      'TOKEN_WRONG_CLUSTER',
      `join token is for cluster "${claims.data.sub}", not "${options.expectedCluster}"`,
    );
  }
  return claims.data;
}

export async function issueAgentCredential(
  key: CryptoKey,
  claims: { cluster: string; nodeId: string },
  now = new Date(),
): Promise<string> {
  return sign({ cluster: claims.cluster }, AGENT, now).setSubject(claims.nodeId).sign(key);
}

export async function verifyAgentCredential(
  token: string,
  key: CryptoKey,
  now = new Date(),
): Promise<AgentClaims> {
  const payload = await verify(token, AGENT, key, now, 'UNAUTHORIZED');
  const claims = AgentClaims.safeParse(payload);
  if (!claims.success) throw new ProtocolError('UNAUTHORIZED', 'agent credential claims are malformed');
  return claims.data;
}

export const SESSION_TTL_S = 8 * 3600;

export async function issueSession(
  key: CryptoKey,
  user: { id: string; username: string; role: z.infer<typeof Role>; scope: z.infer<typeof Scope> },
  now = new Date(),
): Promise<{ token: string; expiresAt: Date }> {
  const expiresAt = new Date(now.getTime() + SESSION_TTL_S * 1000);
  const token = await sign({ username: user.username, role: user.role, scope: user.scope }, SESSION, now)
    .setSubject(user.id)
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(key);
  return { token, expiresAt };
}

export async function verifySession(token: string, key: CryptoKey, now = new Date()): Promise<SessionClaims> {
  const payload = await verify(token, SESSION, key, now, 'UNAUTHORIZED');
  const claims = SessionClaims.safeParse(payload);
  if (!claims.success) throw new ProtocolError('UNAUTHORIZED', 'session claims are malformed');
  return claims.data;
}
