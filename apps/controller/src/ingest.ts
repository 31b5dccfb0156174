import { type AgentClaims, type SigningKeyPair, verifyAgentCredential } from '@palisade/auth';
import type { DbClient } from '@palisade/db';
import {
  decode,
  type LearnedBehaviour,
  type NodeInfo,
  Observation,
  parseObservationSubject,
  type SecurityEvent,
  type SecurityObservation,
  type Workload,
} from '@palisade/protocol';
import type { Logger } from './logger.js';
import { DropCounter } from './logger.js';
import type { DesiredState } from './state/desiredState.js';

/** What to do with a JetStream message after handling it. */
export type Disposition = 'ack' | 'term' | 'retry';

const CREDENTIAL_CACHE_MAX = 10_000;

/** The nodes-table columns for what an agent reports about its machine. */
export function nodeColumns(node: NodeInfo) {
  return {
    hostname: node.hostname,
    kernel: node.kernel,
    arch: node.arch,
    osId: node.os.id,
    osName: node.os.name,
    osVersion: node.os.version,
    agentVersion: node.agentVersion,
    runtimeName: node.containerRuntime?.name ?? null,
    runtimeSocket: node.containerRuntime?.socket ?? null,
    runtimeVersion: node.containerRuntime?.version ?? null,
    runtimeError: node.containerRuntime?.error ?? null,
    cpus: node.cpus ?? null,
    memoryBytes: node.memoryBytes === undefined ? null : BigInt(node.memoryBytes),
  };
}

function workloadColumns(w: Workload) {
  return {
    name: w.name,
    image: w.image,
    runtimeNamespace: w.runtimeNamespace,
    state: w.state,
    pid: w.pid ?? null,
    labels: w.labels,
    k8sNamespace: w.kubernetes?.namespace ?? null,
    k8sPod: w.kubernetes?.pod ?? null,
    k8sContainer: w.kubernetes?.container ?? null,
    createdAt: w.createdAt ? new Date(w.createdAt) : null,
  };
}

/**
 * Writes agents' observations to PostgreSQL. Every message is checked before it touches the
 * database: subject shape, schema, a valid agent credential, and that the credential's cluster and
 * node are the ones in the subject (an agent of cluster A cannot report as B).
 */
export class ObservationIngest {
  private readonly credentials = new Map<string, AgentClaims>();
  accepted = 0;

  /** Set by the service: sends Discover-mode behaviour to the leader (followers cannot propose). */
  forwardLearned?: (cluster: string, nodeId: string, behaviours: LearnedBehaviour[]) => Promise<void>;

  constructor(
    private readonly db: DbClient,
    /** A getter: a replicated log replaces its state object when it installs a snapshot. */
    private readonly stateOf: () => DesiredState,
    private readonly keys: () => SigningKeyPair,
    private readonly log: Logger,
    readonly drops: DropCounter = new DropCounter(log),
  ) {}

  private async claimsFor(credential: string): Promise<AgentClaims | null> {
    const cached = this.credentials.get(credential);
    if (cached) return cached;
    try {
      const claims = await verifyAgentCredential(credential, this.keys().publicKey);
      if (this.credentials.size >= CREDENTIAL_CACHE_MAX) this.credentials.clear();
      this.credentials.set(credential, claims);
      return claims;
    } catch {
      return null;
    }
  }

  /** `receivedAt` is the server's time for the message; the hub never trusts agent clocks for liveness. */
  async handle(subject: string, data: Uint8Array, receivedAt: Date): Promise<Disposition> {
    const where = parseObservationSubject(subject);
    if (!where) {
      this.drops.drop('bad-subject', { subject: subject.slice(0, 200) });
      return 'term';
    }
    const decoded = decode(Observation, data);
    if (!decoded.ok) {
      this.drops.drop('malformed', { subject, error: decoded.error });
      return 'term';
    }
    const obs = decoded.value;
    if (obs.kind !== where.kind) {
      this.drops.drop('kind-mismatch', { subject });
      return 'term';
    }
    const claims = await this.claimsFor(obs.credential);
    if (!claims) {
      this.drops.drop('bad-credential', { subject });
      return 'term';
    }
    if (claims.cluster !== where.cluster || claims.sub !== where.nodeId) {
      this.drops.drop('impersonation', {
        subject,
        credentialCluster: claims.cluster,
        credentialNode: claims.sub,
      });
      return 'term';
    }
    if (!this.stateOf().getNode(where.nodeId)) {
      // The credential is valid, so the hub enrolled this node: this replica has not applied that yet.
      this.drops.drop('unknown-node-yet', { subject });
      return 'retry';
    }
    const at = new Date(Math.min(receivedAt.getTime(), Date.now()));
    try {
      switch (obs.kind) {
        case 'heartbeat':
          await this.heartbeat(where.cluster, where.nodeId, at);
          break;
        case 'node':
          await this.nodeReport(where.cluster, where.nodeId, obs.body, at);
          break;
        case 'workloads':
          await this.workloads(where.cluster, where.nodeId, obs.body.workloads, at);
          break;
        case 'security':
          await this.securityEvents(where.cluster, where.nodeId, obs.body);
          break;
        case 'enforcement':
          await this.db.node.updateMany({
            where: { id: where.nodeId },
            data: { enforcement: obs.body as object },
          });
          break;
        case 'learned':
          if (!this.forwardLearned) throw new Error('this controller cannot forward learned behaviour');
          await this.forwardLearned(where.cluster, where.nodeId, obs.body.behaviours);
          break;
      }
    } catch (err) {
      // Database trouble is not the agent's fault: keep the message and try again later.
      this.log('error', 'could not store observation; will retry', {
        subject,
        error: (err as Error).message,
      });
      return 'retry';
    }
    this.accepted++;
    return 'ack';
  }

  /** Security events become rows of the event stream; the agent's own drop count is an event too. */
  private async securityEvents(cluster: string, nodeId: string, body: SecurityObservation['body']) {
    const severity = { deny: 'high', alert: 'medium', allow: 'info' } as const;
    const verb = { deny: 'blocked', alert: 'alert', allow: 'learned' } as const;
    const rows: Array<{
      at: Date;
      cluster: string;
      nodeId: string;
      containerId: string | null;
      type: string;
      severity: string;
      message: string;
      data: object;
    }> = body.events.map((e) => ({
      at: new Date(e.at),
      cluster,
      nodeId,
      containerId: e.containerId,
      type: `security.${e.kind}.${e.action === 'allow' ? 'learned' : e.action === 'deny' ? 'denied' : 'alert'}`,
      severity: severity[e.action],
      message: `${verb[e.action]}: ${describeEvent(e)} in ${e.containerName} (group ${e.group})${e.count > 1 ? ` ×${e.count}` : ''}`,
      data: e as object,
    }));
    if (body.dropped > 0) {
      rows.push({
        at: new Date(),
        cluster,
        nodeId,
        containerId: null,
        type: 'security.dropped',
        severity: 'medium',
        message: `the agent dropped ${body.dropped} security events (buffers full)`,
        data: { dropped: body.dropped },
      });
    }
    if (rows.length > 0) await this.db.event.createMany({ data: rows });
  }

  private async heartbeat(cluster: string, nodeId: string, at: Date): Promise<void> {
    const back = await this.db.node.updateMany({
      where: { id: nodeId, status: 'offline' },
      data: { status: 'online', statusChangedAt: at, lastHeartbeatAt: at },
    });
    if (back.count > 0) {
      await this.db.event.create({
        data: {
          cluster,
          nodeId,
          type: 'node.online',
          severity: 'info',
          message: `node ${nodeId} is back online`,
        },
      });
      this.log('info', 'node online', { cluster, nodeId });
      return;
    }
    // Out-of-order delivery must not move the heartbeat backwards.
    await this.db.node.updateMany({
      where: { id: nodeId, OR: [{ lastHeartbeatAt: null }, { lastHeartbeatAt: { lt: at } }] },
      data: { lastHeartbeatAt: at },
    });
  }

  private async nodeReport(cluster: string, nodeId: string, node: NodeInfo, at: Date): Promise<void> {
    const enrolled = this.stateOf().getNode(nodeId);
    await this.db.node.upsert({
      where: { id: nodeId },
      update: nodeColumns(node),
      create: {
        id: nodeId,
        cluster,
        ...nodeColumns(node),
        status: 'online',
        enrolledAt: enrolled ? new Date(enrolled.enrolledAt) : at,
        lastHeartbeatAt: at,
        statusChangedAt: at,
      },
    });
  }

  private async workloads(cluster: string, nodeId: string, workloads: Workload[], at: Date): Promise<void> {
    const exists = await this.db.node.findUnique({ where: { id: nodeId }, select: { id: true } });
    if (!exists) return; // the next node report creates it; workloads are re-sent periodically
    await this.db.$transaction([
      ...workloads.map((w) =>
        this.db.workload.upsert({
          where: { nodeId_containerId: { nodeId, containerId: w.id } },
          update: { ...workloadColumns(w), lastSeenAt: at, removedAt: null },
          create: {
            cluster,
            nodeId,
            containerId: w.id,
            ...workloadColumns(w),
            firstSeenAt: at,
            lastSeenAt: at,
          },
        }),
      ),
      // Containers that are gone are kept, marked removed: history is observed state too.
      this.db.workload.updateMany({
        where: { nodeId, removedAt: null, containerId: { notIn: workloads.map((w) => w.id) } },
        data: { removedAt: at },
      }),
    ]);
  }
}

/** Marks nodes offline once their last heartbeat is older than `offlineAfterMs`, with an event each. */
export async function sweepOffline(
  db: DbClient,
  offlineAfterMs: number,
  log: Logger,
  now = new Date(),
): Promise<number> {
  const cutoff = new Date(now.getTime() - offlineAfterMs);
  const stale = await db.node.findMany({
    where: { status: 'online', lastHeartbeatAt: { lt: cutoff } },
    select: { id: true, cluster: true, hostname: true, lastHeartbeatAt: true },
    take: 1000,
  });
  let marked = 0;
  for (const node of stale) {
    // Conditional on the same staleness, so a heartbeat that just arrived wins.
    const changed = await db.node.updateMany({
      where: { id: node.id, status: 'online', lastHeartbeatAt: { lt: cutoff } },
      data: { status: 'offline', statusChangedAt: now },
    });
    if (changed.count === 0) continue;
    marked++;
    await db.event.create({
      data: {
        cluster: node.cluster,
        nodeId: node.id,
        type: 'node.offline',
        severity: 'medium',
        message: `node ${node.hostname} missed its heartbeats and is offline`,
        data: { lastHeartbeatAt: node.lastHeartbeatAt?.toISOString() ?? null },
      },
    });
    log('warn', 'node offline', { cluster: node.cluster, nodeId: node.id });
  }
  return marked;
}

function describeEvent(e: SecurityEvent): string {
  if (e.kind === 'network')
    return `connect to ${e.daddr ?? '?'}:${e.dport ?? '?'}/${e.protocol ?? 'tcp'} by ${e.comm}`;
  if (e.kind === 'process') return `exec of ${e.path ?? e.comm}`;
  return `write to ${e.path ?? '?'} by ${e.comm}`;
}
