import { z } from 'zod';
import { CompactJwt } from './enrollment.js';
import { NodeInfo, Workload } from './inventory.js';

const envelope = {
  v: z.literal(1),
  /** The agent credential from enrollment; the subject's cluster and node must match its claims. */
  credential: CompactJwt,
  /** Agent clock, informational only: the hub orders by the server's receive time. */
  sentAt: z.iso.datetime({ offset: true }),
};

export const HeartbeatObservation = z.object({
  ...envelope,
  kind: z.literal('heartbeat'),
  body: z.object({ seq: z.number().int().nonnegative(), uptimeSeconds: z.number().nonnegative() }),
});
export const NodeObservation = z.object({ ...envelope, kind: z.literal('node'), body: NodeInfo });
export const WorkloadsObservation = z.object({
  ...envelope,
  kind: z.literal('workloads'),
  /** The complete set the agent sees now; anything absent is gone. */
  body: z.object({ workloads: z.array(Workload).max(5000) }),
});

export const Observation = z.discriminatedUnion('kind', [
  HeartbeatObservation,
  NodeObservation,
  WorkloadsObservation,
]);
export type Observation = z.infer<typeof Observation>;
export type HeartbeatObservation = z.infer<typeof HeartbeatObservation>;
export type NodeObservation = z.infer<typeof NodeObservation>;
export type WorkloadsObservation = z.infer<typeof WorkloadsObservation>;
