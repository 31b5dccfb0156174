import type { Ed25519PrivateJwk } from '@palisade/auth';
import type { ClusterView, JoinTokenView, ProtocolError, Role, Scope } from '@palisade/protocol';
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

  private applyCommand(command: Command): ApplyResult {
    switch (command.type) {
      case 'bootstrap': {
        if (this.signingKey) return fail('CONFLICT', 'the hub is already bootstrapped');
        this.signingKey = command.signingKey;
        this.users.set(command.admin.username, { ...command.admin });
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
        token.revokedAt = command.at;
        return { ok: true, value: { ...token } };
      }
      case 'token.consume': {
        const check = this.checkJoinToken(command.jti, command.cluster, command.at);
        if (!check.ok) return check;
        if (this.nodes.has(command.nodeId)) return fail('CONFLICT', 'node id collision');
        const token = this.tokens.get(command.jti) as TokenRecord;
        token.usedAt = command.at;
        token.usedByNode = command.nodeId;
        const node = {
          id: command.nodeId,
          cluster: command.cluster,
          enrolledAt: command.at,
          joinToken: command.jti,
        };
        this.nodes.set(node.id, node);
        return { ok: true, value: { ...node } };
      }
    }
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

  snapshot(): DesiredStateSnapshot {
    return structuredClone({
      appliedIndex: this.appliedIndex,
      signingKey: this.signingKey,
      users: [...this.users.values()],
      clusters: [...this.clusters.values()],
      tokens: [...this.tokens.values()],
      nodes: [...this.nodes.values()],
    });
  }

  static restore(snapshot: DesiredStateSnapshot): DesiredState {
    const state = new DesiredState();
    const copy = structuredClone(snapshot);
    state.appliedIndex = copy.appliedIndex;
    state.signingKey = copy.signingKey;
    for (const u of copy.users) state.users.set(u.username, u);
    for (const c of copy.clusters) state.clusters.set(c.name, c);
    for (const t of copy.tokens) state.tokens.set(t.jti, t);
    for (const n of copy.nodes) state.nodes.set(n.id, n);
    return state;
  }
}
