import { ClusterName, EnforcementStatus, NodeId } from '@palisade/protocol';
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

/** The agent's last enforcement report, or null when it sent none (or something this hub cannot read). */
export function enforcementOf(raw: unknown): EnforcementStatus | null {
  const parsed = EnforcementStatus.safeParse(raw);
  return parsed.success ? parsed.data : null;
}

function parseEventCursor(cursor: string): { at: Date; id: bigint } {
  const [at = '', id = ''] = cursor.split('_');
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) throw new TRPCError({ code: 'BAD_REQUEST', message: 'invalid cursor' });
  return { at: date, id: BigInt(id) };
}

/** Security events that count as violations on the workloads table: blocks and alerts worth a look. */
const VIOLATION_SEVERITIES = ['high', 'medium', 'critical'];
const VIOLATION_WINDOW_MS = 24 * 3600_000;

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
        // Per-workload enforcement detail is for the node page; a list of thousands of nodes skips it.
        omit: { enforcement: true },
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
      const { enforcement, ...node } = await ctx.db.node.findUniqueOrThrow({ where: { id: input.nodeId } });
      return { ...nodeView(node), enforcement: enforcementOf(enforcement) };
    },
  ),

  workloads: clusterProcedure(
    'node.read',
    z.object({ nodeId: NodeId, includeRemoved: z.boolean().default(false) }),
    clusterOfNode,
  ).query(async ({ ctx, input }) => {
    const since = new Date(Date.now() - VIOLATION_WINDOW_MS);
    const [rows, node, violations] = await Promise.all([
      ctx.db.workload.findMany({
        where: { nodeId: input.nodeId, ...(input.includeRemoved ? {} : { removedAt: null }) },
        orderBy: [{ removedAt: { sort: 'desc', nulls: 'first' } }, { name: 'asc' }],
        take: 5000,
      }),
      ctx.db.node.findUnique({ where: { id: input.nodeId }, select: { enforcement: true } }),
      ctx.db.event.groupBy({
        by: ['containerId'],
        where: {
          nodeId: input.nodeId,
          containerId: { not: null },
          type: { startsWith: 'security.' },
          severity: { in: VIOLATION_SEVERITIES },
          at: { gte: since },
        },
        _count: { _all: true },
      }),
    ]);
    const enforced = new Map(
      (enforcementOf(node?.enforcement)?.workloads ?? []).map((w) => [w.containerId, w]),
    );
    const counts = new Map(violations.map((v) => [v.containerId, v._count._all]));
    return rows.map((w) => {
      const e = enforced.get(w.containerId);
      return {
        ...w,
        /** Null until the agent reports which group the container fell into. */
        group: e?.group ?? null,
        modes: e?.modes ?? null,
        policyWarnings: e?.warnings ?? [],
        /** Security events of medium severity or higher in the last 24 hours. */
        violations: counts.get(w.containerId) ?? 0,
      };
    });
  }),

  /** A node's security events (blocks, alerts, learned behaviour, drops), newest first, paged. */
  securityEvents: clusterProcedure(
    'node.read',
    z.object({
      nodeId: NodeId,
      containerId: z.string().min(1).max(128).optional(),
      limit: z.number().int().min(1).max(200).default(50),
      /** Where the previous page ended, as returned in `nextCursor`. */
      cursor: z
        .string()
        .regex(/^\d{4}-\d\d-\d\dT[\d:.]+Z_\d{1,19}$/, 'not a cursor from a previous page')
        .optional(),
    }),
    clusterOfNode,
  ).query(async ({ ctx, input }) => {
    // Keyset paging on (at, id): stable while new events arrive, and ordered by when events happened
    // (agents batch their reports, so arrival order is not event order).
    const after = input.cursor ? parseEventCursor(input.cursor) : null;
    const rows = await ctx.db.event.findMany({
      where: {
        nodeId: input.nodeId,
        type: { startsWith: 'security.' },
        ...(input.containerId ? { containerId: input.containerId } : {}),
        ...(after ? { OR: [{ at: { lt: after.at } }, { at: after.at, id: { lt: after.id } }] } : {}),
      },
      orderBy: [{ at: 'desc' }, { id: 'desc' }],
      take: input.limit + 1,
    });
    const page = rows.slice(0, input.limit);
    const last = page.at(-1);
    return {
      items: page.map((e) => ({ ...e, id: e.id.toString() })),
      nextCursor: rows.length > input.limit && last ? `${last.at.toISOString()}_${last.id}` : null,
    };
  }),

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
