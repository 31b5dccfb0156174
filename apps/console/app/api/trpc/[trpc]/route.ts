import { contextFactory, serverModules } from '@/lib/server/api';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

/** How long a request waits for the first NATS connection before it is answered 503. */
const CONNECT_WAIT_MS = 5000;

function withTimeout<T>(
  TRPCError: typeof import('@trpc/server').TRPCError,
  promise: Promise<T>,
  ms: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'the console cannot reach NATS yet' })),
      ms,
    );
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(
          new TRPCError({
            code: 'SERVICE_UNAVAILABLE',
            message: `the console is not connected: ${(err as Error).message}`,
          }),
        );
      },
    );
  });
}

async function handler(req: Request) {
  // The API and tRPC's server come from node_modules at run time (see lib/server/api.ts).
  const { api, adapter, trpc } = await serverModules();
  return adapter.fetchRequestHandler({
    endpoint: '/api/trpc',
    req,
    router: api.appRouter,
    createContext: async ({ req, resHeaders }) => {
      const factory = await withTimeout(trpc.TRPCError, contextFactory(), CONNECT_WAIT_MS);
      return factory({ req, resHeaders });
    },
    onError({ error, path }) {
      // Expected refusals are part of normal use; log only what points at a fault.
      if (error.code === 'INTERNAL_SERVER_ERROR') {
        console.error(
          JSON.stringify({
            level: 'error',
            component: 'console',
            msg: 'trpc error',
            path,
            error: error.message,
          }),
        );
      }
    },
  });
}

export { handler as GET, handler as POST };
