import { ClusterName, NodeId } from '@palisade/protocol';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import type { AuthedContext } from '../trpc.js';
import { clusterProcedure, router } from '../trpc.js';

const SORTABLE = ['hostname', 'status', 'lastHeartbeatAt', 'enrolledAt', 'kernel', 'arch'] as const;

/** Resolves a node id to its cluster; unknown ids are NOT_FOUND before any permission is checked. */
export async function clusterOfNode(input: { nodeId: string }, ctx: AuthedContext): Promise<string> {
  const node = await ctx.db.node.findUnique({ where: { id: input.nodeId }, select: { cluster: true } });
  if (!node) throw new TRPCError({ code: 'NOT_FOUND', message: `node ${input.nodeId} does not exist` });
  return node.cluster;
}

function nodeView<T extends { memoryBytes: bigint | null }>(node: T) {
  // BigInt does not survive JSON; memory sizes fit a double exactly up to 8 PiB.
  return { ...node, memoryBytes: node.memoryBytes === null ? null : Number(node.memoryBytes) };
}

export const nodesRouter = router({
  /** Server-side filtered, sorted and paged, so a cluster with thousands of nodes stays fast. */
  list: clusterProcedure(
    'node.read',
    z.object({
      cluster: ClusterName,
      search: z.string().max(200).optional(),
      status: z.enum(['online', 'offline']).optional(),
      sort: z.enum(SORTABLE).default('hostname'),
      direction: z.enum(['asc', 'desc']).default('asc'),
      limit: z.number().int().min(1).max(500).default(100),
      /** Offset of the next page, as returned in `nextCursor`. */
      cursor: z.number().int().min(0).default(0),
    }),
    (input) => input.cluster,
  ).query(async ({ ctx, input }) => {
    const where = {
      cluster: input.cluster,
      ...(input.status ? { status: input.status } : {}),
      ...(input.search
        ? {
            OR: [
              { hostname: { contains: input.search, mode: 'insensitive' as const } },
              { id: { contains: input.search } },
              { osName: { contains: input.search, mode: 'insensitive' as const } },
            ],
          }
        : {}),
    };
    const [total, rows] = await Promise.all([
      ctx.db.node.count({ where }),
      ctx.db.node.findMany({
        where,
        // Only nullable columns accept a nulls placement.
        orderBy: [
          {
            [input.sort]:
              input.sort === 'lastHeartbeatAt' ? { sort: input.direction, nulls: 'last' } : input.direction,
          },
          { id: 'asc' },
        ],
        skip: input.cursor,
        take: input.limit,
        include: { _count: { select: { workloads: { where: { removedAt: null } } } } },
      }),
    ]);
    const next = input.cursor + rows.length;
    return {
      total,
      items: rows.map(({ _count, ...node }) => ({ ...nodeView(node), workloads: _count.workloads })),
      nextCursor: next < total ? next : null,
    };
  }),

  get: clusterProcedure('node.read', z.object({ nodeId: NodeId }), clusterOfNode).query(
    async ({ ctx, input }) => {
      const node = await ctx.db.node.findUniqueOrThrow({ where: { id: input.nodeId } });
      return nodeView(node);
    },
  ),

  workloads: clusterProcedure(
    'node.read',
    z.object({ nodeId: NodeId, includeRemoved: z.boolean().default(false) }),
    clusterOfNode,
  ).query(({ ctx, input }) =>
    ctx.db.workload.findMany({
      where: { nodeId: input.nodeId, ...(input.includeRemoved ? {} : { removedAt: null }) },
      orderBy: [{ removedAt: { sort: 'desc', nulls: 'first' } }, { name: 'asc' }],
      take: 5000,
    }),
  ),

  events: clusterProcedure('node.read', z.object({ nodeId: NodeId }), clusterOfNode).query(
    async ({ ctx, input }) => {
      const rows = await ctx.db.event.findMany({
        where: { nodeId: input.nodeId },
        orderBy: { at: 'desc' },
        take: 100,
      });
      return rows.map((e) => ({ ...e, id: e.id.toString() }));
    },
  ),
});
