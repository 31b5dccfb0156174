import { Ed25519PrivateJwk } from '@palisade/auth';
import {
  Actor,
  ClusterName,
  ClusterPolicy,
  FileRule,
  GroupName,
  Labels,
  NetworkRule,
  NodeId,
  ProcessRule,
  Role,
  Scope,
  Username,
} from '@palisade/protocol';
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
  /** Replaces a cluster's policy; `policy.revision` must be exactly one more than the current one. */
  z.object({ type: z.literal('policy.set'), at, actor: Actor, cluster: ClusterName, policy: ClusterPolicy }),
  /** Adds rules learned in Discover mode to one group (a no-op when nothing is new). */
  z.object({
    type: z.literal('policy.learn'),
    at,
    cluster: ClusterName,
    nodeId: NodeId,
    group: GroupName,
    rules: z.object({
      process: z.array(ProcessRule),
      file: z.array(FileRule),
      network: z.array(NetworkRule),
    }),
  }),
]);
export type Command = z.infer<typeof Command>;
