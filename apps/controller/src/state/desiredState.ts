import { createHash } from 'node:crypto';
import type { Ed25519PrivateJwk } from '@palisade/auth';
import { mergeLearned } from '@palisade/policy';
import {
  type ClusterPolicy,
  type ClusterView,
  initialPolicy,
  type JoinTokenView,
  type ProtocolError,
  type Role,
  type Scope,
} from '@palisade/protocol';
import type { Command } from './commands.js';

export interface UserRecord {
  id: string;
  username: string;
  passwordHash: string;
  role: Role;
  scope: Scope;
}

interface TokenRecord extends JoinTokenView {}

export interface NodeRecord {
  id: string;
  cluster: string;
  enrolledAt: string;
  joinToken: string;
}

export type ApplyResult =
  | { ok: true; value: unknown }
  | { ok: false; code: ProtocolError['code']; message: string };

/** What a snapshot holds; also the shape persisted by storage adapters. */
export interface DesiredStateSnapshot {
  appliedIndex: number;
  signingKey: Ed25519PrivateJwk | null;
  users: UserRecord[];
  clusters: ClusterView[];
  tokens: TokenRecord[];
  nodes: NodeRecord[];
  /** Absent in snapshots taken before policies existed. */
  policies?: ClusterPolicy[];
}

/** One line of a record-wise snapshot (see `snapshotRecords`). */
export type SnapshotRecord =
  | { t: 'head'; appliedIndex: number; signingKey: Ed25519PrivateJwk | null }
  | { t: 'user'; r: UserRecord }
  | { t: 'cluster'; r: ClusterView }
  | { t: 'token'; r: TokenRecord }
  | { t: 'node'; r: NodeRecord }
  | { t: 'policy'; r: ClusterPolicy };

const DIGEST_MOD = 1n << 256n;

/** SHA-256 of one record as a 256-bit number; the state digest is the sum of these (mod 2^256). */
function recordHash(kind: string, key: string, value: unknown): bigint {
  return jsonHash(kind, key, JSON.stringify(value));
}

/** recordHash from the value's JSON text (a string, or its UTF-8 bytes). */
function jsonHash(kind: string, key: string, json: string | Uint8Array): bigint {
  const h = createHash('sha256').update(kind).update('\0').update(key).update('\0');
  return BigInt(`0x${h.update(json).digest('hex')}`);
}

function fail(code: ProtocolError['code'], message: string): ApplyResult {
  return { ok: false, code, message };
}

/**
 * The controllers' desired state: clusters, join tokens, users and the hub's signing key.
 * A pure state machine: `apply` is deterministic and does no I/O, so the same log gives the same
 * state on every replica. Rejections are results, not exceptions, and leave the state unchanged.
 */
export class DesiredState {
  private appliedIndex = 0;
  private signingKey: Ed25519PrivateJwk | null = null;
  private readonly users = new Map<string, UserRecord>();
  private readonly clusters = new Map<string, ClusterView>();
  private readonly tokens = new Map<string, TokenRecord>();
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly policies = new Map<string, ClusterPolicy>();
  /**
   * A digest of the whole state kept up to date record by record (a sum of record hashes), so that
   * reporting it costs nothing even when the state is tens of megabytes. The applied index is not in it.
   */
  private digestSum = 0n;

  get index(): number {
    return this.appliedIndex;
  }

  apply(index: number, command: Command): ApplyResult {
    if (index !== this.appliedIndex + 1) {
      throw new Error(`apply out of order: at ${this.appliedIndex}, got ${index}`);
    }
    this.appliedIndex = index;
    return this.applyCommand(command);
  }

  /** Hex digest of the state's content: equal on replicas holding the same records. */
  digest(): string {
    return this.digestSum.toString(16).padStart(64, '0');
  }

  private hashIn(kind: string, key: string, value: unknown): void {
    this.digestSum = (this.digestSum + recordHash(kind, key, value)) % DIGEST_MOD;
  }
  private hashOut(kind: string, key: string, value: unknown): void {
    this.digestSum = (this.digestSum - recordHash(kind, key, value) + DIGEST_MOD) % DIGEST_MOD;
  }
  /** Changes a token in place, keeping the digest in step. */
  private updateToken(token: TokenRecord, change: Partial<TokenRecord>): void {
    this.hashOut('token', token.jti, token);
    Object.assign(token, change);
    this.hashIn('token', token.jti, token);
  }

  private applyCommand(command: Command): ApplyResult {
    switch (command.type) {
      case 'bootstrap': {
        if (this.signingKey) return fail('CONFLICT', 'the hub is already bootstrapped');
        this.signingKey = command.signingKey;
        this.hashIn('signingKey', '', command.signingKey);
        this.users.set(command.admin.username, { ...command.admin });
        this.hashIn('user', command.admin.username, command.admin);
        return { ok: true, value: null };
      }
      case 'cluster.create': {
        if (this.clusters.has(command.name))
          return fail('CONFLICT', `cluster "${command.name}" already exists`);
        const cluster: ClusterView = {
          name: command.name,
          description: command.description,
          labels: command.labels,
          createdAt: command.at,
          createdBy: command.actor.username,
        };
        this.clusters.set(command.name, cluster);
        this.hashIn('cluster', cluster.name, cluster);
        return { ok: true, value: cluster };
      }
      case 'token.create': {
        if (!this.clusters.has(command.cluster))
          return fail('NOT_FOUND', `cluster "${command.cluster}" does not exist`);
        if (this.tokens.has(command.jti)) return fail('CONFLICT', 'token id collision');
        const token: TokenRecord = {
          jti: command.jti,
          cluster: command.cluster,
          createdAt: command.at,
          createdBy: command.actor.username,
          expiresAt: command.expiresAt,
          usedAt: null,
          usedByNode: null,
          revokedAt: null,
        };
        this.tokens.set(command.jti, token);
        this.hashIn('token', token.jti, token);
        return { ok: true, value: { ...token } };
      }
      case 'token.revoke': {
        const token = this.tokens.get(command.jti);
        if (!token || token.cluster !== command.cluster) {
          return fail(
            'NOT_FOUND',
            `join token ${command.jti} does not exist in cluster "${command.cluster}"`,
          );
        }
        if (token.revokedAt) return { ok: true, value: { ...token } };
        if (token.usedAt) return fail('CONFLICT', 'join token was already used; revoke the node instead');
        this.updateToken(token, { revokedAt: command.at });
        return { ok: true, value: { ...token } };
      }
      case 'token.consume': {
        const check = this.checkJoinToken(command.jti, command.cluster, command.at);
        if (!check.ok) return check;
        if (this.nodes.has(command.nodeId)) return fail('CONFLICT', 'node id collision');
        const token = this.tokens.get(command.jti) as TokenRecord;
        this.updateToken(token, { usedAt: command.at, usedByNode: command.nodeId });
        const node = {
          id: command.nodeId,
          cluster: command.cluster,
          enrolledAt: command.at,
          joinToken: command.jti,
        };
        this.nodes.set(node.id, node);
        this.hashIn('node', node.id, node);
        return { ok: true, value: { ...node } };
      }
      case 'policy.set': {
        if (!this.clusters.has(command.cluster))
          return fail('NOT_FOUND', `cluster "${command.cluster}" does not exist`);
        if (command.policy.cluster !== command.cluster)
          return fail('BAD_REQUEST', `the policy is for cluster "${command.policy.cluster}"`);
        const current = this.getPolicy(command.cluster);
        if (command.policy.revision !== current.revision + 1) {
          return fail(
            'CONFLICT',
            `the policy changed since revision ${command.policy.revision - 1} (now ${current.revision}); reload it and apply your change again`,
          );
        }
        this.setPolicy(structuredClone(command.policy));
        return { ok: true, value: this.getPolicy(command.cluster) };
      }
      case 'policy.learn': {
        const current = this.policies.get(command.cluster);
        const index = current?.groups.findIndex((g) => g.name === command.group) ?? -1;
        const group = current?.groups[index];
        if (!current || !group) return fail('NOT_FOUND', `group "${command.group}" does not exist`);
        const merged = mergeLearned(group, command.rules);
        if (merged.added === 0) return { ok: true, value: { added: 0, revision: current.revision } };
        const groups = current.groups.map((g, i) => (i === index ? merged.group : g));
        this.setPolicy({ ...structuredClone(current), groups, revision: current.revision + 1 });
        return { ok: true, value: { added: merged.added, revision: current.revision + 1 } };
      }
    }
  }

  private setPolicy(policy: ClusterPolicy): void {
    const old = this.policies.get(policy.cluster);
    if (old) this.hashOut('policy', old.cluster, old);
    this.policies.set(policy.cluster, policy);
    this.hashIn('policy', policy.cluster, policy);
  }

  /** Whether a join token may be spent now; used before proposing and again when applying. */
  checkJoinToken(jti: string, cluster: string, at: string): ApplyResult {
    const token = this.tokens.get(jti);
    // A token the hub never issued (or a forged one with a valid signature from an old key).
    if (!token) return fail('TOKEN_INVALID', 'join token is not known to this hub');
    if (token.cluster !== cluster)
      return fail('TOKEN_WRONG_CLUSTER', 'join token belongs to another cluster');
    if (!this.clusters.has(cluster)) return fail('TOKEN_INVALID', `cluster "${cluster}" no longer exists`);
    if (token.revokedAt) return fail('TOKEN_REVOKED', 'join token has been revoked');
    if (token.usedAt) return fail('TOKEN_USED', 'join token has already been used');
    if (Date.parse(at) >= Date.parse(token.expiresAt)) return fail('TOKEN_EXPIRED', 'join token has expired');
    return { ok: true, value: null };
  }

  // Reads. They return copies so callers cannot mutate state behind the log's back.
  isBootstrapped(): boolean {
    return this.signingKey !== null;
  }
  getSigningKey(): Ed25519PrivateJwk | null {
    return this.signingKey;
  }
  getUser(username: string): UserRecord | undefined {
    const user = this.users.get(username);
    return user && { ...user };
  }
  getCluster(name: string): ClusterView | undefined {
    const cluster = this.clusters.get(name);
    return cluster && { ...cluster, labels: { ...cluster.labels } };
  }
  listClusters(): ClusterView[] {
    return [...this.clusters.keys()].sort().map((name) => this.getCluster(name) as ClusterView);
  }
  listTokens(cluster: string): JoinTokenView[] {
    return [...this.tokens.values()]
      .filter((t) => t.cluster === cluster)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .map((t) => ({ ...t }));
  }
  getNode(id: string): NodeRecord | undefined {
    const node = this.nodes.get(id);
    return node && { ...node };
  }

  /** The cluster's policy; a cluster nobody wrote one for gets the initial one (revision 0). */
  getPolicy(cluster: string): ClusterPolicy {
    const policy = this.policies.get(cluster);
    return policy ? structuredClone(policy) : initialPolicy(cluster);
  }
  /** Clusters with a written policy. */
  policyClusters(): string[] {
    return [...this.policies.keys()].sort();
  }

  snapshot(): DesiredStateSnapshot {
    return structuredClone({
      appliedIndex: this.appliedIndex,
      signingKey: this.signingKey,
      users: [...this.users.values()],
      clusters: [...this.clusters.values()],
      tokens: [...this.tokens.values()],
      nodes: [...this.nodes.values()],
      policies: [...this.policies.values()],
    });
  }

  /**
   * The state as a sequence of small records, for snapshots that are written and read piece by piece
   * (a large state is never serialised in one blocking call). Records are live objects: serialise them
   * before the state changes again.
   */
  *snapshotRecords(): Generator<SnapshotRecord> {
    yield { t: 'head', appliedIndex: this.appliedIndex, signingKey: this.signingKey };
    for (const r of this.users.values()) yield { t: 'user', r };
    for (const r of this.clusters.values()) yield { t: 'cluster', r };
    for (const r of this.tokens.values()) yield { t: 'token', r };
    for (const r of this.nodes.values()) yield { t: 'node', r };
    for (const r of this.policies.values()) yield { t: 'policy', r };
  }

  static restore(snapshot: DesiredStateSnapshot): DesiredState {
    const copy = structuredClone(snapshot);
    const builder = new DesiredStateBuilder();
    builder.add({ t: 'head', appliedIndex: copy.appliedIndex, signingKey: copy.signingKey });
    for (const r of copy.users) builder.add({ t: 'user', r });
    for (const r of copy.clusters) builder.add({ t: 'cluster', r });
    for (const r of copy.tokens) builder.add({ t: 'token', r });
    for (const r of copy.nodes) builder.add({ t: 'node', r });
    for (const r of copy.policies ?? []) builder.add({ t: 'policy', r });
    return builder.finish();
  }

  /** @internal used by DesiredStateBuilder: records already hashed into `digestSum`. */
  static adopt(parts: {
    appliedIndex: number;
    signingKey: Ed25519PrivateJwk | null;
    records: SnapshotRecord[];
    digestSum: bigint;
  }): DesiredState {
    const state = new DesiredState();
    state.appliedIndex = parts.appliedIndex;
    state.signingKey = parts.signingKey;
    state.digestSum = parts.digestSum;
    for (const rec of parts.records) {
      if (rec.t === 'user') state.users.set(rec.r.username, rec.r);
      else if (rec.t === 'cluster') state.clusters.set(rec.r.name, rec.r);
      else if (rec.t === 'token') state.tokens.set(rec.r.jti, rec.r);
      else if (rec.t === 'node') state.nodes.set(rec.r.id, rec.r);
      else if (rec.t === 'policy') state.policies.set(rec.r.cluster, rec.r);
    }
    return state;
  }
}

/**
 * Rebuilds a DesiredState from `snapshotRecords()` output fed one record at a time. Each record is
 * hashed as it arrives, so a caller that feeds records in slices never blocks for the whole state.
 */
export class DesiredStateBuilder {
  private head: Extract<SnapshotRecord, { t: 'head' }> | undefined;
  private readonly records: SnapshotRecord[] = [];
  private digestSum = 0n;

  /**
   * `rJson`, if given, is exactly `JSON.stringify(record.r)` (e.g. the bytes a snapshot line holds for
   * it): the record is hashed from it instead of being serialised again — half the garbage and work of
   * a large restore.
   */
  add(record: SnapshotRecord, rJson?: Uint8Array): void {
    if (record.t === 'head') {
      if (this.head) throw new Error('snapshot has a second head record');
      this.head = record;
      if (record.signingKey) this.hash('signingKey', '', record.signingKey);
      return;
    }
    if (!this.head) throw new Error('snapshot record before the head record');
    if (record.t === 'user') this.hash('user', record.r.username, record.r, rJson);
    else if (record.t === 'cluster') this.hash('cluster', record.r.name, record.r, rJson);
    else if (record.t === 'token') this.hash('token', record.r.jti, record.r, rJson);
    else if (record.t === 'node') this.hash('node', record.r.id, record.r, rJson);
    else if (record.t === 'policy') this.hash('policy', record.r.cluster, record.r, rJson);
    else throw new Error(`unknown snapshot record type ${String((record as { t: unknown }).t)}`);
    this.records.push(record);
  }

  private hash(kind: string, key: string, value: unknown, json?: Uint8Array): void {
    const h = json ? jsonHash(kind, key, json) : recordHash(kind, key, value);
    this.digestSum = (this.digestSum + h) % DIGEST_MOD;
  }

  finish(): DesiredState {
    if (!this.head) throw new Error('snapshot has no head record');
    return DesiredState.adopt({
      appliedIndex: this.head.appliedIndex,
      signingKey: this.head.signingKey,
      records: this.records,
      digestSum: this.digestSum,
    });
  }
}
