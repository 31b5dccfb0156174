import { z } from 'zod';
import { CompactJwt } from './enrollment.js';
import { NodeInfo, Workload } from './inventory.js';
import { LearnedBehaviour, Mode } from './policy.js';

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

const RuleKind = z.enum(['process', 'file', 'network']);
const Mechanism = z.enum(['bpf-lsm', 'tp_btf-kill', 'fanotify', 'cgroup-connect']);
const text = z.string().max(4096);

/** One enforcement decision worth reporting: a block (Protect), an alert (Monitor) or a learned action. */
export const SecurityEvent = z.object({
  at: z.iso.datetime({ offset: true }),
  kind: RuleKind,
  action: z.enum(['allow', 'alert', 'deny']),
  mechanism: Mechanism,
  containerId: z.string().min(1).max(128),
  containerName: z.string().max(256),
  group: z.string().max(63),
  pid: z.number().int().nonnegative(),
  comm: z.string().max(64),
  path: text.optional(),
  flags: z.number().int().optional(),
  daddr: z.string().max(64).optional(),
  dport: z.number().int().min(0).max(65535).optional(),
  protocol: z.enum(['tcp', 'udp']).optional(),
  /** Identical events folded into this one (same container, kind, action, target). */
  count: z.number().int().positive(),
});
export type SecurityEvent = z.infer<typeof SecurityEvent>;

export const SecurityObservation = z.object({
  ...envelope,
  kind: z.literal('security'),
  body: z.object({
    events: z.array(SecurityEvent).max(1000),
    /** Events the agent could not report since its last message (buffers full); never silent. */
    dropped: z.number().int().nonnegative(),
  }),
});

/** Behaviour seen in Discover mode, summarised per group; the controller turns it into rules. */
export const LearnedObservation = z.object({
  ...envelope,
  kind: z.literal('learned'),
  body: z.object({
    policyRevision: z.number().int().nonnegative(),
    behaviours: z.array(LearnedBehaviour).max(2000),
  }),
});

/** What the node enforces: the back-end, the policy revision, each workload's group and modes. */
export const EnforcementStatus = z.object({
  backend: z.enum(['bpf-lsm', 'fallback', 'none']),
  reason: text,
  mechanisms: z.record(RuleKind, z.array(Mechanism)),
  policyRevision: z.number().int().nonnegative().nullable(),
  generation: z.number().int().nonnegative(),
  /** The last policy or generation the agent refused, and why (the previous one stays enforced). */
  lastError: text.nullable(),
  events: z.number().int().nonnegative(),
  drops: z.number().int().nonnegative(),
  /** Security observations kept on the node while the hub did not acknowledge them (older agents omit it). */
  spool: z
    .object({
      /** Waiting to be delivered. */
      pending: z.number().int().nonnegative(),
      /** Refused since the agent started because the spool was full. */
      dropped: z.number().int().nonnegative(),
    })
    .optional(),
  workloads: z
    .array(
      z.object({
        containerId: z.string().min(1).max(128),
        group: z.string().max(63),
        modes: z.object({ process: Mode, file: Mode, network: Mode }),
        warnings: z.array(text).max(50),
      }),
    )
    .max(5000),
});
export type EnforcementStatus = z.infer<typeof EnforcementStatus>;

export const EnforcementObservation = z.object({
  ...envelope,
  kind: z.literal('enforcement'),
  body: EnforcementStatus,
});

export const Observation = z.discriminatedUnion('kind', [
  HeartbeatObservation,
  NodeObservation,
  WorkloadsObservation,
  SecurityObservation,
  LearnedObservation,
  EnforcementObservation,
]);
export type Observation = z.infer<typeof Observation>;
export type HeartbeatObservation = z.infer<typeof HeartbeatObservation>;
export type NodeObservation = z.infer<typeof NodeObservation>;
export type WorkloadsObservation = z.infer<typeof WorkloadsObservation>;
export type SecurityObservation = z.infer<typeof SecurityObservation>;
export type LearnedObservation = z.infer<typeof LearnedObservation>;
export type EnforcementObservation = z.infer<typeof EnforcementObservation>;
