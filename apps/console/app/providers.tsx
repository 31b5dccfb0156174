'use client';

import type { AppRouter } from '@palisade/api';
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink, httpLink, splitLink } from '@trpc/client';
import { type ReactNode, useState } from 'react';
import { errorInfo, isPermanent } from '@/lib/errors';
import { TRPCProvider } from '@/lib/trpc';

/** A session that expired while the page was open sends the user back to sign in, then here. */
function onUnauthorized(error: unknown) {
  if (typeof window === 'undefined') return;
  if (errorInfo(error).code !== 'UNAUTHORIZED') return;
  const { pathname, search } = window.location;
  if (pathname === '/login') return;
  window.location.assign(`/login?next=${encodeURIComponent(pathname + search)}`);
}

function makeQueryClient() {
  return new QueryClient({
    queryCache: new QueryCache({ onError: onUnauthorized }),
    mutationCache: new MutationCache({ onError: onUnauthorized }),
    defaultOptions: {
      queries: {
        staleTime: 1000,
        refetchOnWindowFocus: true,
        // Refusals (forbidden, not found, bad input) are final; only outages are worth retrying.
        retry: (failureCount, error) => !isPermanent(error) && failureCount < 2,
      },
      mutations: { retry: false },
    },
  });
}

export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(makeQueryClient);
  const [trpcClient] = useState(() =>
    createTRPCClient<AppRouter>({
      links: [
        // A registry scan can take minutes: it gets a request of its own, so the page's polling
        // queries are never batched behind it.
        splitLink({
          condition: (op) => op.path === 'vulnerabilities.scanImage',
          true: httpLink({ url: '/api/trpc' }),
          false: httpBatchLink({ url: '/api/trpc', maxURLLength: 4000 }),
        }),
      ],
    }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
