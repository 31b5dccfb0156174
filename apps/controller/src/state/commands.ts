import { Ed25519PrivateJwk } from '@palisade/auth';
import { Actor, ClusterName, Labels, NodeId, Role, Scope, Username } from '@palisade/protocol';
import { z } from 'zod';

/**
 * Commands that change desired state. They are what the log replicates, so they carry every value
 * that would otherwise differ between replicas (ids, timestamps, hashes, keys): applying the same
 * command on any replica yields the same state.
 */
const at = z.iso.datetime();

export const Command = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('bootstrap'),
    at,
    signingKey: Ed25519PrivateJwk,
    admin: z.object({
      id: z.string(),
      username: Username,
      passwordHash: z.string(),
      role: Role,
      scope: Scope,
    }),
  }),
  z.object({
    type: z.literal('cluster.create'),
    at,
    actor: Actor,
    name: ClusterName,
    description: z.string().max(500),
    labels: Labels,
  }),
  z.object({
    type: z.literal('token.create'),
    at,
    actor: Actor,
    cluster: ClusterName,
    jti: z.string().min(16).max(64),
    expiresAt: at,
  }),
  z.object({
    type: z.literal('token.revoke'),
    at,
    actor: Actor,
    cluster: ClusterName,
    jti: z.string().max(64),
  }),
  /** Enrollment: spends a join token on a new node, once. */
  z.object({
    type: z.literal('token.consume'),
    at,
    jti: z.string().max(64),
    cluster: ClusterName,
    nodeId: NodeId,
  }),
]);
export type Command = z.infer<typeof Command>;
