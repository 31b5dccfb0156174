import { join } from 'node:path';
import { type JetStreamClient, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { cgroupV2Root } from '@palisade/native';
import {
  decode,
  EnrollReply,
  type EnrollRequest,
  type ErrorCode,
  encode,
  type ObservationKind,
  type PackageInventory,
  subjects,
  type Workload,
} from '@palisade/protocol';
import { loadCredential, type StoredCredential, saveCredential } from './credential.js';
import { EnforcementManager, openBackends } from './enforcement/manager.js';
import { PolicySource } from './enforcement/policySource.js';
import { readInventory } from './inventory.js';
import { collectNodeInfo, scanRuntime } from './nodeInfo.js';
import { ObservationSpool, type SpooledObservation } from './spool.js';

export type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface AgentOptions {
  stateDir: string;
  /** The cluster the operator means to join; a token or stored credential for another is refused. */
  cluster?: string | undefined;
  joinToken?: string | undefined;
  containerdSocket: string;
  hostname?: string | undefined;
  /** How often to re-read the node and its workloads. */
  inventoryIntervalMs?: number;
  /** Extract running containers' package inventories and forward them to hub scanners (default on). */
  forwardInventories?: boolean;
  /** Where containers' root filesystems are reachable: `<procRoot>/<pid>/root`. */
  procRoot?: string;
  /** Enforce the cluster's policy with the kernel back-ends (default on; needs root). */
  enforce?: boolean;
  /** bpffs directory for our pinned programs and maps (default /sys/fs/bpf/palisade). */
  bpfPinDir?: string;
  /** How often to report security events (default 1 s). */
  eventReportIntervalMs?: number;
}

/** The hub refused to enroll us; retrying with the same token cannot help. */
export class EnrollmentRefused extends Error {
  override name = 'EnrollmentRefused';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const RESEND_NODE_MS = 5 * 60_000;
/** NATS' default max_payload is 1 MiB. */
const MAX_INVENTORY_BYTES = 1000 * 1024;
const RESEND_WORKLOADS_MS = 60_000;

export class Agent {
  private readonly js: JetStreamClient;
  private credential: StoredCredential | undefined;
  private timers: NodeJS.Timeout[] = [];
  private seq = 0;
  private readonly startedAt = Date.now();
  private lastSent = new Map<ObservationKind, { json: string; at: number }>();
  private publishFailing = false;
  /** Containers whose inventory was forwarded, with the image it was read from. */
  private readonly inventoried = new Map<string, string>();
  private enforcement: EnforcementManager | undefined;
  private readonly stopping = new AbortController();
  /** Security events and learned behaviour the hub has not acknowledged yet (see spool.ts). */
  private readonly spool: ObservationSpool;
  private readonly spoolOpened: Promise<unknown>;
  private spoolFullLogged = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: AgentOptions,
    private readonly log: Log,
  ) {
    this.js = jetstream(nc);
    this.spool = new ObservationSpool(
      join(options.stateDir, 'spool', 'observations.ndjson'),
      undefined,
      (line, reason) =>
        this.log('warn', 'skipped an unreadable line of the observation spool', { line, reason }),
    );
    this.spoolOpened = this.spool.open().then(
      (st) =>
        st.pending > 0 &&
        this.log('info', 'observations kept from an earlier run wait for the hub', { ...st }),
      (err: Error) => this.log('error', 'cannot read the observation spool', { error: err.message }),
    );
  }

  get identity(): StoredCredential | undefined {
    return this.credential;
  }

  /** Loads the stored credential, or enrolls with the join token and stores the result. */
  async ensureEnrolled(signal?: AbortSignal): Promise<StoredCredential> {
    const stored = await loadCredential(this.options.stateDir);
    if (stored) {
      if (this.options.cluster && stored.cluster !== this.options.cluster) {
        throw new Error(
          `this agent is enrolled in cluster "${stored.cluster}", not "${this.options.cluster}"; ` +
            `remove ${this.options.stateDir} to enroll it elsewhere`,
        );
      }
      if (this.options.joinToken)
        this.log('warn', 'already enrolled; ignoring the join token', { nodeId: stored.nodeId });
      this.credential = stored;
      return stored;
    }
    if (!this.options.joinToken) {
      throw new Error('this agent is not enrolled yet: pass --join-token (or set PALISADE_JOIN_TOKEN)');
    }
    const { runtime } = await scanRuntime(this.options.containerdSocket);
    const request: EnrollRequest = {
      v: 1,
      token: this.options.joinToken,
      ...(this.options.cluster ? { expectedCluster: this.options.cluster } : {}),
      node: await collectNodeInfo(runtime, this.options.hostname),
    };
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      let data: Uint8Array;
      try {
        data = (await this.nc.request(subjects.enroll, encode(request), { timeout: 10_000 })).data;
      } catch (err) {
        // No controller answering yet (starting, or NATS reconnecting): wait and try again.
        const delay = Math.min(500 * attempt, 5000);
        this.log('warn', 'hub not answering enrollment yet; retrying', {
          attempt,
          error: (err as Error).message,
        });
        await new Promise((r) => setTimeout(r, delay));
        continue;
      }
      const reply = decode(EnrollReply, data);
      if (!reply.ok) throw new Error(`malformed enrollment reply from the hub: ${reply.error}`);
      if (!reply.value.ok) throw new EnrollmentRefused(reply.value.error.code, reply.value.error.message);
      const accepted = reply.value;
      const credential: StoredCredential = {
        cluster: accepted.cluster,
        nodeId: accepted.nodeId,
        credential: accepted.credential,
        heartbeatIntervalMs: accepted.heartbeatIntervalMs,
        enrolledAt: new Date().toISOString(),
        hubKey: accepted.hubKey,
      };
      await saveCredential(this.options.stateDir, credential);
      this.credential = credential;
      this.log('info', 'enrolled', { cluster: credential.cluster, nodeId: credential.nodeId });
      return credential;
    }
  }

  private async publish(kind: ObservationKind, body: unknown, force = false): Promise<void> {
    const bodyJson = JSON.stringify(body);
    const previous = this.lastSent.get(kind);
    const resendAfter = kind === 'node' ? RESEND_NODE_MS : RESEND_WORKLOADS_MS;
    if (
      !force &&
      kind !== 'heartbeat' &&
      previous?.json === bodyJson &&
      Date.now() - previous.at < resendAfter
    )
      return;
    if (await this.send(kind, body, new Date().toISOString()))
      this.lastSent.set(kind, { json: bodyJson, at: Date.now() });
    else this.lastSent.delete(kind);
  }

  /** Publishes one observation; false when the hub did not acknowledge it (logged once per outage). */
  private async send(kind: ObservationKind, body: unknown, sentAt: string, msgID?: string): Promise<boolean> {
    const credential = this.credential;
    if (!credential) throw new Error('not enrolled');
    const message = { v: 1, credential: credential.credential, sentAt, kind, body };
    try {
      await this.js.publish(
        subjects.observation(credential.cluster, credential.nodeId, kind),
        encode(message),
        {
          timeout: 5000,
          ...(msgID ? { msgID } : {}),
        },
      );
      if (this.publishFailing) this.log('info', 'hub reachable again');
      this.publishFailing = false;
      return true;
    } catch (err) {
      // Offline: say so once per outage; the next tick tries again.
      if (!this.publishFailing)
        this.log('warn', 'cannot reach the hub; will keep trying', { error: (err as Error).message });
      this.publishFailing = true;
      return false;
    }
  }

  /**
   * Security events and learned behaviour: sent after anything spooled before them, and spooled on
   * disk when the hub does not acknowledge them, so an outage loses none of them.
   */
  private async publishDurable(kind: 'security' | 'learned', body: unknown): Promise<void> {
    const item = ObservationSpool.make(kind, body);
    await this.replaySpool();
    if (this.spool.status().pending === 0 && (await this.sendSpooled(item))) return;
    if (await this.spool.append(item)) return;
    if (!this.spoolFullLogged)
      this.log('error', 'the observation spool is full; dropping new security observations', {
        ...this.spool.status(),
        path: this.spool.path,
      });
    this.spoolFullLogged = true;
  }

  private sendSpooled(item: SpooledObservation): Promise<boolean> {
    return this.send(item.kind, item.body, item.sentAt, item.id);
  }

  /** Delivers what the spool holds, oldest first, while the hub acknowledges. */
  private async replaySpool(): Promise<void> {
    await this.spoolOpened;
    if (this.spool.status().pending === 0) return;
    const sent = await this.spool.replay(async (item) => {
      if (!(await this.sendSpooled(item))) throw new Error('hub unreachable');
    });
    if (sent > 0) {
      this.spoolFullLogged = false;
      this.log('info', 'delivered observations kept while the hub was unreachable', {
        delivered: sent,
        ...this.spool.status(),
      });
    }
  }

  private async heartbeat(): Promise<void> {
    await this.publish('heartbeat', {
      seq: this.seq++,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
    });
    // The hub answers again: hand over what was kept meanwhile, even if nothing new happens.
    if (!this.publishFailing) await this.replaySpool();
  }

  private async inventory(force = false): Promise<void> {
    const { runtime, workloads } = await scanRuntime(this.options.containerdSocket);
    await this.publish('node', await collectNodeInfo(runtime, this.options.hostname), force);
    // A runtime that did not answer says nothing about its containers: reporting an empty list would
    // mark every workload removed. The node report carries the error instead.
    if (runtime?.error === undefined) {
      await this.publish('workloads', { workloads }, force);
      this.enforcement?.setWorkloads(workloads);
    }
    if (this.enforcement)
      await this.publish('enforcement', { ...this.enforcement.status(), spool: this.spool.status() }, force);
    if (this.options.forwardInventories !== false) await this.forwardInventory(workloads);
  }

  /**
   * Reads the package databases of one not-yet-scanned running container through /proc/<pid>/root and
   * sends the inventory to the hub's scanners; the node never needs the vulnerability DB. One
   * container per round keeps the agent's CPU and memory use small.
   */
  private async forwardInventory(workloads: Workload[]): Promise<void> {
    const credential = this.credential;
    if (!credential) return;
    const live = new Set(workloads.map((w) => w.id));
    for (const id of this.inventoried.keys()) if (!live.has(id)) this.inventoried.delete(id);
    const next = workloads.find(
      (w) => w.state === 'running' && w.pid && this.inventoried.get(w.id) !== w.image,
    );
    if (!next?.pid) return;
    const root = join(this.options.procRoot ?? '/proc', String(next.pid), 'root');
    let inventory: PackageInventory;
    try {
      inventory = await readInventory(root);
    } catch (err) {
      this.log('warn', 'could not read a container’s packages', {
        containerId: next.id,
        error: (err as Error).message,
      });
      this.inventoried.set(next.id, next.image);
      return;
    }
    const data = encode({
      v: 1,
      credential: credential.credential,
      sentAt: new Date().toISOString(),
      workload: { containerId: next.id, image: next.image },
      inventory,
    });
    if (data.byteLength > MAX_INVENTORY_BYTES) {
      this.log('warn', 'inventory too large to forward', { containerId: next.id, bytes: data.byteLength });
      this.inventoried.set(next.id, next.image);
      return;
    }
    try {
      await this.js.publish(subjects.inventory(credential.cluster, credential.nodeId), data, {
        timeout: 10_000,
      });
      this.inventoried.set(next.id, next.image);
      this.log('info', 'forwarded a container inventory', {
        containerId: next.id,
        packages: inventory.packages.length,
      });
    } catch (err) {
      // Not marked: the next round tries again.
      this.log('warn', 'could not forward an inventory; will retry', {
        containerId: next.id,
        error: (err as Error).message,
      });
    }
  }

  /**
   * Opens the kernel back-ends and enforces the cached policy at once (before the hub is reachable),
   * then follows the hub's signed policy for this cluster.
   */
  async startEnforcement(): Promise<void> {
    const credential = this.credential;
    if (!credential) throw new Error('call ensureEnrolled() first');
    const procRoot = this.options.procRoot ?? '/proc';
    const backends = openBackends({
      ...(this.options.bpfPinDir ? { pinDir: this.options.bpfPinDir } : {}),
      log: this.log,
    });
    const manager = new EnforcementManager(credential.cluster, backends, {
      cgroupRoot: cgroupV2Root(),
      procRoot,
      log: this.log,
    });
    this.enforcement = manager;
    if (!credential.hubKey) {
      const reason =
        'the stored credential predates signed policies (no hub key): only the initial Discover policy applies; re-enroll this node';
      this.log('error', reason);
      manager.noteRejected(reason);
      return;
    }
    const source = new PolicySource(
      credential.cluster,
      credential.hubKey,
      this.options.stateDir,
      this.log,
      (policy) => manager.setPolicy(policy),
      (reason) => manager.noteRejected(reason),
    );
    await source.loadCached();
    const { workloads } = await scanRuntime(this.options.containerdSocket);
    manager.setWorkloads(workloads);
    void source.follow(this.nc, this.stopping.signal);
  }

  private async reportSecurity(): Promise<void> {
    const manager = this.enforcement;
    if (!manager) return;
    const { security, learned } = manager.drain();
    if (security) await this.publishDurable('security', security);
    if (learned.length > 0) {
      await this.publishDurable('learned', {
        policyRevision: manager.status().policyRevision ?? 0,
        behaviours: learned,
      });
    }
  }

  /** Starts heartbeats and inventory reports; resends everything after a reconnect. */
  run(): void {
    const credential = this.credential;
    if (!credential) throw new Error('call ensureEnrolled() first');
    const every = (ms: number, fn: () => Promise<void>) => {
      let busy = false;
      const tick = () => {
        if (busy) return;
        busy = true;
        fn()
          .catch((err: Error) => this.log('error', 'periodic task failed', { error: err.message }))
          .finally(() => {
            busy = false;
          });
      };
      tick();
      this.timers.push(setInterval(tick, ms));
    };
    every(credential.heartbeatIntervalMs, () => this.heartbeat());
    every(this.options.inventoryIntervalMs ?? 15_000, () => this.inventory());
    if (this.enforcement) every(this.options.eventReportIntervalMs ?? 1000, () => this.reportSecurity());
    void (async () => {
      for await (const status of this.nc.status()) {
        if (status.type === 'reconnect') {
          this.log('info', 'reconnected to NATS; resending inventory');
          await this.heartbeat();
          await this.inventory(true).catch(() => {});
        } else if (status.type === 'disconnect') {
          this.log('warn', 'disconnected from NATS; reconnecting');
        }
      }
    })();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.stopping.abort();
    // The pinned eBPF programs keep enforcing while the agent is down; see native/README.md.
    this.enforcement?.close();
    this.enforcement = undefined;
  }
}
