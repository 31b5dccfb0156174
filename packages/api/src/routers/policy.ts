import { diffPolicies, type PolicyChange } from '@palisade/policy';
import { ClusterName, ClusterPolicy, ProtocolError } from '@palisade/protocol';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import type { AuthedContext } from '../trpc.js';
import { actorOf, audit, clusterProcedure, router } from '../trpc.js';

const byCluster = z.object({ cluster: ClusterName });
const withPolicy = byCluster.extend({ policy: ClusterPolicy });
const clusterOfInput = (input: { cluster: string }) => input.cluster;

/** How many change lines an audit entry keeps; the full policy is in desired state anyway. */
const AUDITED_CHANGES = 50;

function requireSameCluster(input: { cluster: string; policy: ClusterPolicy }): void {
  if (input.policy.cluster !== input.cluster) {
    throw new TRPCError({
      code: 'BAD_REQUEST',
      message: `the policy is for cluster "${input.policy.cluster}", not "${input.cluster}"`,
    });
  }
}

function current(ctx: AuthedContext, cluster: string): Promise<ClusterPolicy> {
  return ctx.controller.call({ op: 'policy.get', actor: actorOf(ctx), cluster });
}

export const policyRouter = router({
  /** The cluster's policy as desired state holds it (revision 0 is the initial Discover policy). */
  get: clusterProcedure('policy.read', byCluster, clusterOfInput).query(({ ctx, input }) =>
    current(ctx, input.cluster),
  ),

  /**
   * What applying `policy` would change, for a preview before `set`. It changes nothing; it is a
   * mutation only so the proposal travels in a POST body, as a whole policy is too large for a URL.
   */
  diff: clusterProcedure('policy.read', withPolicy, clusterOfInput).mutation(async ({ ctx, input }) => {
    requireSameCluster(input);
    const now = await current(ctx, input.cluster);
    return {
      currentRevision: now.revision,
      /** False when the proposal was based on an older revision: `set` would be refused. */
      upToDate: now.revision === input.policy.revision,
      changes: diffPolicies(now, input.policy),
    };
  }),

  /**
   * Replaces the cluster's policy. `policy.revision` must be the current revision (optimistic
   * concurrency): a stale write is refused with CONFLICT and changes nothing.
   */
  set: clusterProcedure('policy.write', withPolicy, clusterOfInput).mutation(async ({ ctx, input }) => {
    requireSameCluster(input);
    // Only for the audit trail: when the write succeeds, this is exactly what it replaced.
    let changes: PolicyChange[] = [];
    try {
      const before = await current(ctx, input.cluster);
      if (before.revision === input.policy.revision) changes = diffPolicies(before, input.policy);
    } catch {
      // The write below reports the controller's error; the audit detail is best-effort.
    }
    try {
      const stored = await ctx.controller.call({
        op: 'policy.set',
        actor: actorOf(ctx),
        cluster: input.cluster,
        policy: input.policy,
      });
      await audit(ctx, {
        action: 'policy.write',
        cluster: input.cluster,
        object: `policy/${input.cluster}`,
        result: 'ok',
        details: {
          revision: stored.revision,
          changes: changes.slice(0, AUDITED_CHANGES).map((c) => c.text),
          changeCount: changes.length,
        },
      });
      return stored;
    } catch (err) {
      if (err instanceof ProtocolError) {
        await audit(ctx, {
          action: 'policy.write',
          cluster: input.cluster,
          object: `policy/${input.cluster}`,
          result: 'error',
          details: { code: err.code, message: err.message, basedOn: input.policy.revision },
        });
      }
      throw err;
    }
  }),
});
