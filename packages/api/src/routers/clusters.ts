import {
  ClusterName,
  Labels,
  TOKEN_TTL_DEFAULT_S,
  TOKEN_TTL_MAX_S,
  TOKEN_TTL_MIN_S,
} from '@palisade/protocol';
import { z } from 'zod';
import { actorOf, audit, clusterProcedure, globalProcedure, router, scopedListProcedure } from '../trpc.js';

const byName = z.object({ cluster: ClusterName });
const clusterOfInput = (input: { cluster: string }) => input.cluster;

/** Shell-quotes one argument for the join command users paste. */
function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:=@-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}

export function joinCommand(natsUrl: string, cluster: string, token: string): string {
  return ['palisade-enforcer', '--nats', natsUrl, '--cluster', cluster, '--join-token', token]
    .map(shellQuote)
    .join(' ');
}

export const clustersRouter = router({
  /** Every cluster the caller may read, with node counts from observed state. */
  list: scopedListProcedure('cluster.read').query(async ({ ctx }) => {
    const clusters = (await ctx.controller.call({ op: 'cluster.list', actor: actorOf(ctx) })).filter((c) =>
      ctx.visible(c.name),
    );
    const counts = await ctx.db.node.groupBy({
      by: ['cluster', 'status'],
      where: { cluster: { in: clusters.map((c) => c.name) } },
      _count: { _all: true },
    });
    return clusters.map((c) => {
      const of = (status: string) =>
        counts.find((row) => row.cluster === c.name && row.status === status)?._count._all ?? 0;
      return { ...c, nodesOnline: of('online'), nodesOffline: of('offline') };
    });
  }),

  get: clusterProcedure('cluster.read', byName, clusterOfInput).query(async ({ ctx, input }) => {
    const cluster = await ctx.controller.call({
      op: 'cluster.get',
      actor: actorOf(ctx),
      name: input.cluster,
    });
    const [nodesOnline, nodesOffline, workloads] = await Promise.all([
      ctx.db.node.count({ where: { cluster: input.cluster, status: 'online' } }),
      ctx.db.node.count({ where: { cluster: input.cluster, status: 'offline' } }),
      ctx.db.workload.count({ where: { cluster: input.cluster, removedAt: null } }),
    ]);
    return { ...cluster, nodesOnline, nodesOffline, workloads };
  }),

  create: globalProcedure('cluster.create')
    .input(
      z.object({
        name: ClusterName,
        description: z.string().max(500).default(''),
        labels: Labels.default({}),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const cluster = await ctx.controller.call({ op: 'cluster.create', actor: actorOf(ctx), ...input });
      await audit(ctx, {
        action: 'cluster.create',
        cluster: cluster.name,
        object: `cluster/${cluster.name}`,
        result: 'ok',
      });
      return cluster;
    }),

  createJoinToken: clusterProcedure(
    'cluster.token.create',
    byName.extend({
      ttlSeconds: z.number().int().min(TOKEN_TTL_MIN_S).max(TOKEN_TTL_MAX_S).default(TOKEN_TTL_DEFAULT_S),
    }),
    clusterOfInput,
  ).mutation(async ({ ctx, input }) => {
    const { token, view } = await ctx.controller.call({
      op: 'token.create',
      actor: actorOf(ctx),
      cluster: input.cluster,
      ttlSeconds: input.ttlSeconds,
    });
    await audit(ctx, {
      action: 'cluster.token.create',
      cluster: input.cluster,
      object: `join-token/${view.jti}`,
      result: 'ok',
      details: { expiresAt: view.expiresAt },
    });
    return { token, view, joinCommand: joinCommand(ctx.agentNatsUrl, input.cluster, token) };
  }),

  tokens: clusterProcedure('cluster.token.read', byName, clusterOfInput).query(({ ctx, input }) =>
    ctx.controller.call({ op: 'token.list', actor: actorOf(ctx), cluster: input.cluster }),
  ),

  revokeToken: clusterProcedure(
    'cluster.token.revoke',
    byName.extend({ jti: z.string().max(64) }),
    clusterOfInput,
  ).mutation(async ({ ctx, input }) => {
    const view = await ctx.controller.call({
      op: 'token.revoke',
      actor: actorOf(ctx),
      cluster: input.cluster,
      jti: input.jti,
    });
    await audit(ctx, {
      action: 'cluster.token.revoke',
      cluster: input.cluster,
      object: `join-token/${input.jti}`,
      result: 'ok',
    });
    return view;
  }),
});
