import { can, canOn, type Permission, type Principal } from '@palisade/auth';
import { type ErrorCode, ProtocolError } from '@palisade/protocol';
import { initTRPC, TRPCError } from '@trpc/server';
import type { z } from 'zod';
import type { Context } from './context.js';

export interface Meta {
  /** The permission a procedure needs; every non-public procedure declares one. */
  permission?: Permission;
  /** Public procedures say so explicitly; anything else without a permission is refused. */
  public?: true;
}

const TRPC_CODES: Record<ErrorCode, TRPCError['code']> = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  RATE_LIMITED: 'TOO_MANY_REQUESTS',
  INTERNAL: 'SERVICE_UNAVAILABLE',
  TOKEN_INVALID: 'BAD_REQUEST',
  TOKEN_EXPIRED: 'BAD_REQUEST',
  TOKEN_USED: 'BAD_REQUEST',
  TOKEN_REVOKED: 'BAD_REQUEST',
  TOKEN_WRONG_CLUSTER: 'BAD_REQUEST',
};

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    errorFormatter({ shape, error }) {
      const cause = error.cause instanceof ProtocolError ? error.cause.code : undefined;
      // Never leak stack traces to clients.
      const { stack: _stack, ...data } = shape.data;
      return { ...shape, data: { ...data, palisadeCode: cause } };
    },
  });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Turns controller/protocol errors into tRPC errors with a matching HTTP status. */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof ProtocolError) {
    const cause = result.error.cause;
    throw new TRPCError({ code: TRPC_CODES[cause.code], message: cause.message, cause });
  }
  return result;
});

export const publicProcedure = t.procedure.use(mapErrors).meta({ public: true });

const authed = t.procedure.use(mapErrors).use(({ ctx, next }) => {
  if (!ctx.principal) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'sign in first' });
  return next({ ctx: { ...ctx, principal: ctx.principal } });
});

export type AuthedContext = Context & { principal: Principal };

export function forbidden(permission: Permission, cluster?: string): TRPCError {
  return new TRPCError({
    code: 'FORBIDDEN',
    message: cluster
      ? `you do not have permission ${permission} on cluster "${cluster}"`
      : `you do not have permission ${permission}`,
  });
}

/** A procedure acting on the hub as a whole: the caller needs `permission` over every cluster. */
export function globalProcedure(permission: Permission) {
  return authed.meta({ permission }).use(async ({ ctx, next }) => {
    await requireGlobal(ctx, permission);
    return next();
  });
}

/**
 * A procedure acting on one cluster. `clusterOf` resolves the validated input to the cluster it
 * touches (throwing NOT_FOUND when the object does not exist); the check runs before the handler,
 * which receives the resolved cluster in `ctx.cluster`.
 */
export function clusterProcedure<S extends z.ZodType>(
  permission: Permission,
  input: S,
  clusterOf: (input: z.output<S>, ctx: AuthedContext) => string | Promise<string>,
) {
  return authed
    .meta({ permission })
    .input(input)
    .use(async ({ ctx, input, next }) => {
      const cluster = await clusterOf(input as z.output<S>, ctx);
      await requireCluster(ctx, permission, cluster);
      return next({ ctx: { cluster } });
    });
}

/**
 * Like `clusterProcedure`, for objects that belong to a cluster or to the hub as a whole (`null`):
 * hub-wide objects need the permission with an all-clusters scope.
 */
export function clusterOrHubProcedure<S extends z.ZodType>(
  permission: Permission,
  input: S,
  clusterOf: (input: z.output<S>, ctx: AuthedContext) => string | null | Promise<string | null>,
) {
  return authed
    .meta({ permission })
    .input(input)
    .use(async ({ ctx, input, next }) => {
      const cluster = await clusterOf(input as z.output<S>, ctx);
      if (!canOn(ctx.principal, permission, cluster)) {
        await audit(ctx, {
          action: permission,
          ...(cluster ? { cluster } : {}),
          object: cluster ? `cluster/${cluster}` : 'hub',
          result: 'denied',
        });
        throw forbidden(permission, cluster ?? undefined);
      }
      return next({ ctx: { cluster } });
    });
}

/**
 * A procedure that lists objects across clusters: the handler must pass what it returns through
 * `ctx.visible`, which keeps only what the caller's role and scope allow for `permission`.
 */
export function scopedListProcedure(permission: Permission) {
  return authed.meta({ permission }).use(({ ctx, next }) =>
    next({
      ctx: {
        visible: (cluster: string) => can(ctx.principal, permission, cluster),
        /** The clusters the caller may see, or 'all' (which includes hub-wide objects); [] means none. */
        visibleClusters: (): 'all' | string[] => {
          if (canOn(ctx.principal, permission, null)) return 'all';
          if (ctx.principal.scope.all) return [];
          return ctx.principal.scope.clusters.filter((c) => can(ctx.principal, permission, c));
        },
      },
    }),
  );
}

/** Checks `permission` on `cluster` for the caller, recording denials in the audit log. */
export async function requireCluster(
  ctx: AuthedContext,
  permission: Permission,
  cluster: string,
): Promise<void> {
  if (can(ctx.principal, permission, cluster)) return;
  await audit(ctx, { action: permission, cluster, object: `cluster/${cluster}`, result: 'denied' });
  throw forbidden(permission, cluster);
}

export async function requireGlobal(ctx: AuthedContext, permission: Permission): Promise<void> {
  if (can(ctx.principal, permission)) return;
  await audit(ctx, { action: permission, object: 'hub', result: 'denied' });
  throw forbidden(permission);
}

export async function audit(
  ctx: AuthedContext,
  entry: {
    action: string;
    cluster?: string;
    object: string;
    result: 'ok' | 'denied' | 'error';
    details?: object;
  },
): Promise<void> {
  await ctx.db.auditLog.create({
    data: {
      actorId: ctx.principal.userId,
      actorName: ctx.principal.username,
      action: entry.action,
      cluster: entry.cluster ?? null,
      object: entry.object,
      result: entry.result,
      details: entry.details ?? {},
    },
  });
}

export function actorOf(ctx: AuthedContext) {
  return { userId: ctx.principal.userId, username: ctx.principal.username };
}
