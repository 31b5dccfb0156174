import { z } from 'zod';
import { ClusterName, CompactJwt, NodeId } from './enrollment.js';
import { ErrorBody } from './errors.js';
import { ClusterPolicy, LearnedBehaviour } from './policy.js';

/** Roles a user can hold; what each may do is the permission matrix in @palisade/auth. */
export const Role = z.enum(['admin', 'cluster-admin', 'viewer']);
export type Role = z.infer<typeof Role>;

/** Which clusters a user's role applies to: all of them, or a named list. */
export const Scope = z.union([
  z.object({ all: z.literal(true) }),
  z.object({ all: z.literal(false), clusters: z.array(ClusterName).max(1000) }),
]);
export type Scope = z.infer<typeof Scope>;

export const Labels = z
  .record(
    z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$/, 'invalid label key'),
    z.string().max(63),
  )
  .refine((l) => Object.keys(l).length <= 32, 'at most 32 labels');

export const Username = z
  .string()
  .regex(/^[a-z][a-z0-9._-]{1,63}$/, 'usernames are 2-64 lowercase characters');

/** Who asked; recorded in the audit log next to every change. */
export const Actor = z.object({ userId: z.string().max(64), username: z.string().max(64) });
export type Actor = z.infer<typeof Actor>;

export const ClusterView = z.object({
  name: ClusterName,
  description: z.string().max(500),
  labels: Labels,
  createdAt: z.iso.datetime(),
  createdBy: z.string(),
});
export type ClusterView = z.infer<typeof ClusterView>;

export const JoinTokenView = z.object({
  jti: z.string(),
  cluster: ClusterName,
  createdAt: z.iso.datetime(),
  createdBy: z.string(),
  expiresAt: z.iso.datetime(),
  usedAt: z.iso.datetime().nullable(),
  usedByNode: NodeId.nullable(),
  revokedAt: z.iso.datetime().nullable(),
});
export type JoinTokenView = z.infer<typeof JoinTokenView>;

export const UserView = z.object({ id: z.string(), username: Username, role: Role, scope: Scope });
export type UserView = z.infer<typeof UserView>;

export const ControllerStatus = z.object({
  id: z.string(),
  role: z.enum(['leader', 'follower', 'candidate', 'standalone']),
  term: z.number().int().nonnegative(),
  appliedIndex: z.number().int().nonnegative(),
  startedAt: z.iso.datetime(),
  /** Inputs this controller refused since it started, by reason (malformed, impersonation, ...). */
  dropped: z.record(z.string(), z.number().int().nonnegative()),
  observationsAccepted: z.number().int().nonnegative(),
  /** Replicated controllers: the leader's Raft id as this replica knows it, and (on the leader) each follower's lag in entries. */
  raftId: z.number().int().positive().optional(),
  leaderId: z.number().int().positive().nullable().optional(),
  followers: z.record(z.string(), z.object({ match: z.number().int(), lag: z.number().int() })).optional(),
  /** SHA-256 of the applied desired state: equal on replicas that applied the same log prefix. */
  stateDigest: z.string().optional(),
  /** The longest event-loop stall in the last minute (ms), resident memory and JS heap in use (bytes). */
  eventLoopMaxMs: z.number().nonnegative().optional(),
  /** The same, per second for the last minute (oldest first). */
  eventLoopMaxMsPerSecond: z.array(z.number().nonnegative()).max(61).optional(),
  /** Replicated controllers: size of the latest desired-state snapshot (bytes). */
  snapshotBytes: z.number().int().nonnegative().optional(),
  rssBytes: z.number().int().nonnegative().optional(),
  heapUsedBytes: z.number().int().nonnegative().optional(),
});
export type ControllerStatus = z.infer<typeof ControllerStatus>;

/** Join tokens live between 1 minute and 7 days; the default is 1 hour. */
export const TOKEN_TTL_MIN_S = 60;
export const TOKEN_TTL_MAX_S = 7 * 24 * 3600;
export const TOKEN_TTL_DEFAULT_S = 3600;

/**
 * Every request the console or CLI sends to the controllers, one schema per operation. The reply
 * schema for each lives next to it in `ControllerResults`.
 */
export const ControllerRequest = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('cluster.create'),
    actor: Actor,
    name: ClusterName,
    description: z.string().max(500).default(''),
    labels: Labels.default({}),
  }),
  z.object({ op: z.literal('cluster.list'), actor: Actor }),
  z.object({ op: z.literal('cluster.get'), actor: Actor, name: ClusterName }),
  z.object({
    op: z.literal('token.create'),
    actor: Actor,
    cluster: ClusterName,
    ttlSeconds: z.number().int().min(TOKEN_TTL_MIN_S).max(TOKEN_TTL_MAX_S).default(TOKEN_TTL_DEFAULT_S),
  }),
  z.object({ op: z.literal('token.list'), actor: Actor, cluster: ClusterName }),
  z.object({ op: z.literal('token.revoke'), actor: Actor, cluster: ClusterName, jti: z.string().max(64) }),
  z.object({
    op: z.literal('auth.login'),
    username: z.string().max(64),
    password: z.string().max(1024),
    /** Client address as the console saw it, for rate limiting. */
    remoteAddress: z.string().max(64),
  }),
  z.object({ op: z.literal('auth.sessionKey') }),
  z.object({ op: z.literal('status') }),
  z.object({ op: z.literal('policy.get'), actor: Actor, cluster: ClusterName }),
  z.object({
    op: z.literal('policy.set'),
    actor: Actor,
    cluster: ClusterName,
    /** The whole policy; its `revision` must be the current one (optimistic concurrency). */
    policy: ClusterPolicy,
  }),
  /**
   * Controller → leader: behaviour an agent reported in Discover mode (an observation that any replica
   * may ingest), forwarded so the leader can turn it into rules.
   */
  z.object({
    op: z.literal('policy.learn'),
    cluster: ClusterName,
    nodeId: NodeId,
    behaviours: z.array(LearnedBehaviour).max(2000),
  }),
]);
export type ControllerRequest = z.infer<typeof ControllerRequest>;
export type ControllerRequestInput = z.input<typeof ControllerRequest>;
export type ControllerOp = ControllerRequest['op'];

export const ControllerResults = {
  'cluster.create': ClusterView,
  'cluster.list': z.array(ClusterView),
  'cluster.get': ClusterView,
  'token.create': z.object({ token: CompactJwt, view: JoinTokenView }),
  'token.list': z.array(JoinTokenView),
  'token.revoke': JoinTokenView,
  'auth.login': z.object({ session: CompactJwt, user: UserView, expiresAt: z.iso.datetime() }),
  /** Ed25519 public key (JWK) that verifies session JWTs; consoles cache it. */
  'auth.sessionKey': z.object({
    issuer: z.string(),
    audience: z.string(),
    jwk: z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string() }),
  }),
  status: ControllerStatus,
  'policy.get': ClusterPolicy,
  'policy.set': ClusterPolicy,
  'policy.learn': z.object({
    added: z.number().int().nonnegative(),
    revision: z.number().int().nonnegative(),
  }),
} as const satisfies Record<ControllerOp, z.ZodType>;
export type ControllerResult<Op extends ControllerOp> = z.infer<(typeof ControllerResults)[Op]>;

export const ControllerReply = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: ErrorBody }),
]);
export type ControllerReply = z.infer<typeof ControllerReply>;
