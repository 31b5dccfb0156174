import { z } from 'zod';

const shortText = z.string().max(256);

export const ContainerRuntimeInfo = z.object({
  name: z.enum(['containerd']),
  socket: shortText,
  version: shortText.optional(),
  /** Set when the socket exists but the runtime could not be queried; workloads are then unknown. */
  error: z.string().max(1000).optional(),
});
export type ContainerRuntimeInfo = z.infer<typeof ContainerRuntimeInfo>;

/** What an agent reports about the machine it runs on. */
export const NodeInfo = z.object({
  hostname: shortText.min(1),
  kernel: shortText,
  arch: shortText,
  os: z.object({ id: shortText, name: shortText, version: shortText }),
  containerRuntime: ContainerRuntimeInfo.nullable(),
  agentVersion: shortText,
  cpus: z.number().int().nonnegative().optional(),
  memoryBytes: z.number().int().nonnegative().optional(),
});
export type NodeInfo = z.infer<typeof NodeInfo>;

export const Workload = z.object({
  /** The runtime's container id. */
  id: z.string().min(1).max(128),
  name: shortText,
  image: z.string().max(1024),
  /** containerd namespace (k8s.io for Kubernetes pods, default for plain containerd). */
  runtimeNamespace: shortText,
  state: z.enum(['running', 'created', 'paused', 'stopped', 'unknown']),
  pid: z.number().int().nonnegative().optional(),
  labels: z.record(z.string().max(253), z.string().max(1024)),
  createdAt: z.iso.datetime({ offset: true }).optional(),
  kubernetes: z.object({ namespace: shortText, pod: shortText, container: shortText }).optional(),
});
export type Workload = z.infer<typeof Workload>;
