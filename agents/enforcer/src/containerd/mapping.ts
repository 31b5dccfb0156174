/**
 * Pure mapping from containerd API messages (as decoded by protobufjs with
 * keepCase/longs:Number/enums:String/defaults) to Palisade's workload shape.
 */

export type WorkloadState = 'running' | 'created' | 'paused' | 'stopped' | 'unknown';

export interface DiscoveredWorkload {
  /** The runtime's container id. */
  id: string;
  name: string;
  image: string;
  /** containerd namespace (k8s.io for Kubernetes pods, default for plain containerd). */
  runtimeNamespace: string;
  state: WorkloadState;
  pid?: number;
  labels: Record<string, string>;
  createdAt?: string;
  kubernetes?: { namespace: string; pod: string; container: string };
}

export interface RawTimestamp {
  seconds?: number | string | null;
  nanos?: number | null;
}

export interface RawContainer {
  id?: string;
  labels?: Record<string, string> | null;
  image?: string;
  runtime?: { name?: string } | null;
  created_at?: RawTimestamp | null;
  updated_at?: RawTimestamp | null;
}

export interface RawProcess {
  container_id?: string;
  id?: string;
  pid?: number;
  /** Enum name ('RUNNING') or, for values unknown to our proto, the number. */
  status?: string | number;
  exit_status?: number;
}

/** CRI labels containerd's CRI plugin sets on Kubernetes containers. */
export const K8S_POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const K8S_POD_NAME_LABEL = 'io.kubernetes.pod.name';
export const K8S_CONTAINER_NAME_LABEL = 'io.kubernetes.container.name';
/** Label nerdctl sets with the user-facing container name. */
export const NERDCTL_NAME_LABEL = 'nerdctl/name';

const STATUS_BY_NUMBER = ['UNKNOWN', 'CREATED', 'RUNNING', 'STOPPED', 'PAUSED', 'PAUSING'] as const;

/** containerd.v1.types.Status → our state. PAUSING (in transition to paused) counts as paused. */
export function taskState(status: string | number | undefined): WorkloadState {
  const name = typeof status === 'number' ? STATUS_BY_NUMBER[status] : status;
  switch (name) {
    case 'CREATED':
      return 'created';
    case 'RUNNING':
      return 'running';
    case 'STOPPED':
      return 'stopped';
    case 'PAUSED':
    case 'PAUSING':
      return 'paused';
    default:
      return 'unknown';
  }
}

/** google.protobuf.Timestamp → RFC 3339 (UTC, millisecond precision); undefined if unset/zero. */
export function timestampToIso(ts: RawTimestamp | null | undefined): string | undefined {
  if (!ts) return undefined;
  const seconds = Number(ts.seconds ?? 0);
  const nanos = Number(ts.nanos ?? 0);
  if (!Number.isFinite(seconds) || (seconds === 0 && nanos === 0)) return undefined;
  const date = new Date(seconds * 1000 + Math.floor(nanos / 1e6));
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** Joins one container with its task (if any) into a workload. */
export function toWorkload(
  namespace: string,
  container: RawContainer,
  task: RawProcess | undefined,
): DiscoveredWorkload {
  const id = container.id ?? '';
  const labels: Record<string, string> = { ...(container.labels ?? {}) };
  const k8sContainer = labels[K8S_CONTAINER_NAME_LABEL];
  const k8sPod = labels[K8S_POD_NAME_LABEL];
  const k8sNamespace = labels[K8S_POD_NAMESPACE_LABEL];

  // A container without a task is not running anything: it is stopped (never started, or its
  // task was deleted after exit).
  const state: WorkloadState = task ? taskState(task.status) : 'stopped';

  const workload: DiscoveredWorkload = {
    id,
    name: k8sContainer || labels[NERDCTL_NAME_LABEL] || id,
    image: container.image ?? '',
    runtimeNamespace: namespace,
    state,
    labels,
  };
  // A stopped task still reports the pid it had; it is stale, so only live states carry a pid.
  const pid = task?.pid ?? 0;
  if (pid > 0 && (state === 'running' || state === 'paused' || state === 'created')) workload.pid = pid;
  const createdAt = timestampToIso(container.created_at);
  if (createdAt) workload.createdAt = createdAt;
  if (k8sPod && k8sNamespace) {
    // Sandbox (pause) containers carry pod labels but no container-name label.
    workload.kubernetes = { namespace: k8sNamespace, pod: k8sPod, container: k8sContainer ?? '' };
  }
  return workload;
}
