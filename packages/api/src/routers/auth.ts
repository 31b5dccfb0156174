import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { clearedSessionCookie, sessionCookie } from '../session.js';
import { publicProcedure, router } from '../trpc.js';

export const authRouter = router({
  /**
   * Signs in. Browsers get an httpOnly cookie; the CLI asks for the token in the body
   * (`bearer: true`) and sends it as `Authorization: Bearer`.
   */
  login: publicProcedure
    .input(
      z.object({
        username: z.string().min(1).max(64),
        password: z.string().min(1).max(1024),
        bearer: z.boolean().default(false),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const result = await ctx.controller.call({
        op: 'auth.login',
        username: input.username,
        password: input.password,
        remoteAddress: ctx.remoteAddress,
      });
      const expiresAt = new Date(result.expiresAt);
      ctx.resHeaders.append('set-cookie', sessionCookie(result.session, expiresAt, ctx.secureCookies));
      return {
        user: result.user,
        expiresAt: result.expiresAt,
        token: input.bearer ? result.session : undefined,
      };
    }),

  logout: publicProcedure.mutation(({ ctx }) => {
    ctx.resHeaders.append('set-cookie', clearedSessionCookie());
    return { ok: true as const };
  }),

  /** Who the caller is; null when signed out (the console redirects to the login page). */
  me: publicProcedure.query(({ ctx }) => {
    if (!ctx.principal) return null;
    const { userId, username, role, scope } = ctx.principal;
    return { userId, username, role, scope };
  }),
});

export function unauthenticated(): TRPCError {
  return new TRPCError({ code: 'UNAUTHORIZED', message: 'sign in first' });
}
