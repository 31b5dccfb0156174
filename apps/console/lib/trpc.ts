'use client';

import type { AppRouter } from '@palisade/api';
import type { inferRouterOutputs } from '@trpc/server';
import { createTRPCContext } from '@trpc/tanstack-react-query';

// Only the router's TYPE crosses into the browser bundle; the client talks JSON over /api/trpc.
export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

/**
 * Procedure outputs as the browser sees them. There is no transformer, so dates arrive as ISO
 * strings (tRPC's inferred types already say so).
 */
export type Outputs = inferRouterOutputs<AppRouter>;
export type Me = NonNullable<Outputs['auth']['me']>;
export type ClusterRow = Outputs['clusters']['list'][number];
export type ClusterDetail = Outputs['clusters']['get'];
export type TokenRow = Outputs['clusters']['tokens'][number];
export type NodeRow = Outputs['nodes']['list']['items'][number];
export type NodeDetail = Outputs['nodes']['get'];
export type WorkloadRow = Outputs['nodes']['workloads'][number];
export type EventRow = Outputs['nodes']['events'][number];
