import { appRouter } from '@palisade/api';
import { TRPCError } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { contextFactory } from '@/lib/server/api';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

/** How long a request waits for the first NATS connection before it is answered 503. */
const CONNECT_WAIT_MS = 5000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
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

function handler(req: Request) {
  return fetchRequestHandler({
    endpoint: '/api/trpc',
    req,
    router: appRouter,
    createContext: async ({ req, resHeaders }) => {
      const factory = await withTimeout(contextFactory(), CONNECT_WAIT_MS);
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
