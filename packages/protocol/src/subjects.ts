/**
 * Every NATS subject Palisade uses. Names carry the protocol version so an old agent and a new
 * controller can run side by side during an upgrade.
 */
export const PROTOCOL_VERSION = 1 as const;

/** Cluster names double as subject tokens, so they must never contain '.', '*', '>' or spaces. */
export const CLUSTER_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
export const NODE_ID_PATTERN = /^n-[a-z0-9]{8,32}$/;

export const OBSERVATION_KINDS = [
  'heartbeat',
  'node',
  'workloads',
  'security',
  'learned',
  'enforcement',
] as const;
export type ObservationKind = (typeof OBSERVATION_KINDS)[number];

export const subjects = {
  /** Agent → controllers, request/reply: trade a join token for a node credential. */
  enroll: 'palisade.v1.enroll',
  /** Console/CLI → controllers, request/reply: desired-state commands and reads. */
  controller: 'palisade.v1.controller',
  /** Every controller replica answers with its own status (request-many), leader or not. */
  controllerStatus: 'palisade.v1.controller.status',
  /** JetStream stream holding every observation agents send. */
  observationStream: 'PALISADE_OBS_V1',
  observationWildcard: 'palisade.v1.obs.>',
  /** Console/CLI → scanners, request/reply: scan a registry image. */
  scanRequest: 'palisade.v1.scan.request',
  /** JetStream stream of package inventories agents forward for scanning. */
  inventoryStream: 'PALISADE_SCAN_V1',
  inventoryWildcard: 'palisade.v1.scan.inventory.>',
  inventory(cluster: string, nodeId: string): string {
    return `palisade.v1.scan.inventory.${cluster}.${nodeId}`;
  },
  /**
   * Leader → agents (JetStream, last value per subject): the signed policy of one cluster. Agents
   * read the latest on start and follow updates.
   */
  policyStream: 'PALISADE_POLICY_V1',
  policyWildcard: 'palisade.v1.policy.>',
  policy(cluster: string): string {
    return `palisade.v1.policy.${cluster}`;
  },
  /** Agent → controllers (JetStream): one subject per cluster, node and kind. */
  observation(cluster: string, nodeId: string, kind: ObservationKind): string {
    return `palisade.v1.obs.${cluster}.${nodeId}.${kind}`;
  },
} as const;

/** Queue group every controller replica joins so each request is handled once. */
export const CONTROLLER_QUEUE = 'palisade-controllers';
export const OBSERVATION_CONSUMER = 'palisade-controller-ingest';
export const SCANNER_QUEUE = 'palisade-scanners';
export const INVENTORY_CONSUMER = 'palisade-scanner-ingest';

/** Splits an inventory subject into cluster and node; null when it is not one of ours. */
export function parseInventorySubject(subject: string): { cluster: string; nodeId: string } | null {
  const parts = subject.split('.');
  if (parts.length !== 6 || parts.slice(0, 4).join('.') !== 'palisade.v1.scan.inventory') return null;
  const [cluster, nodeId] = parts.slice(4) as [string, string];
  if (!CLUSTER_NAME_PATTERN.test(cluster) || !NODE_ID_PATTERN.test(nodeId)) return null;
  return { cluster, nodeId };
}

/** Splits an observation subject back into its parts; null when it is not one of ours. */
export function parseObservationSubject(
  subject: string,
): { cluster: string; nodeId: string; kind: ObservationKind } | null {
  const parts = subject.split('.');
  if (parts.length !== 6 || parts[0] !== 'palisade' || parts[1] !== 'v1' || parts[2] !== 'obs') return null;
  const [, , , cluster, nodeId, kind] = parts as [string, string, string, string, string, string];
  if (!CLUSTER_NAME_PATTERN.test(cluster) || !NODE_ID_PATTERN.test(nodeId)) return null;
  if (!(OBSERVATION_KINDS as readonly string[]).includes(kind)) return null;
  return { cluster, nodeId, kind: kind as ObservationKind };
}
