import { z } from 'zod';
import { ErrorReply } from './errors.js';
import { NodeInfo } from './inventory.js';
import { CLUSTER_NAME_PATTERN, NODE_ID_PATTERN } from './subjects.js';

export const ClusterName = z
  .string()
  .regex(CLUSTER_NAME_PATTERN, 'cluster names are 1-40 lowercase letters, digits or dashes');
export const NodeId = z.string().regex(NODE_ID_PATTERN, 'not a node id');

/** A JWT in compact form: three base64url parts. */
export const CompactJwt = z
  .string()
  .max(4096)
  .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'not a compact JWT');

export const EnrollRequest = z.object({
  v: z.literal(1),
  token: CompactJwt,
  /** The cluster the operator meant to join; a token for another cluster is refused. */
  expectedCluster: ClusterName.optional(),
  node: NodeInfo,
});
export type EnrollRequest = z.infer<typeof EnrollRequest>;

export const EnrollAccepted = z.object({
  ok: z.literal(true),
  v: z.literal(1),
  cluster: ClusterName,
  nodeId: NodeId,
  /** The agent's long-lived credential: a JWT bound to this cluster and node. */
  credential: CompactJwt,
  heartbeatIntervalMs: z.number().int().positive(),
  /** The hub's Ed25519 public key (JWK): agents verify signed policies with it. */
  hubKey: z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string() }),
});
export type EnrollAccepted = z.infer<typeof EnrollAccepted>;

export const EnrollReply = z.discriminatedUnion('ok', [EnrollAccepted, ErrorReply]);
export type EnrollReply = z.infer<typeof EnrollReply>;
