import { actorOf, globalProcedure, publicProcedure, router, scopedListProcedure } from '../trpc.js';

export const systemRouter = router({
  /** Liveness of the console itself; does not touch the controllers or the database. */
  health: publicProcedure.query(() => ({ ok: true as const })),

  /** Every controller replica: role, term, applied index, followers' lag (on the leader), drop counts. */
  controllers: globalProcedure('controller.read').query(async ({ ctx }) => {
    const all = await ctx.controller.statuses();
    return all.length > 0 ? all : [await ctx.controller.call({ op: 'status' })];
  }),

  /** Recent events across every cluster the caller may read. */
  events: scopedListProcedure('node.read').query(async ({ ctx }) => {
    const clusters = (await ctx.controller.call({ op: 'cluster.list', actor: actorOf(ctx) }))
      .map((c) => c.name)
      .filter(ctx.visible);
    const rows = await ctx.db.event.findMany({
      where: { cluster: { in: clusters } },
      orderBy: { at: 'desc' },
      take: 200,
    });
    return rows.map((e) => ({ ...e, id: e.id.toString() }));
  }),
});
