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
export type CveRow = Outputs['vulnerabilities']['cves']['items'][number];
export type CveDetail = Outputs['vulnerabilities']['cve'];
export type AffectedRow = CveDetail['affected'][number];
export type ImageReportRow = Outputs['vulnerabilities']['images']['items'][number];
export type ReportRow = Outputs['vulnerabilities']['reports']['items'][number];
export type ReportDetail = Outputs['vulnerabilities']['report'];
export type FindingRow = ReportDetail['findings'][number];
export type ScanSummary = Outputs['vulnerabilities']['scanImage'];
