import { randomBytes } from 'node:crypto';
import {
  FailureRateLimiter,
  generatePassword,
  generateSigningJwks,
  hashPassword,
  ISSUER,
  importSigningKeyPair,
  issueAgentCredential,
  issueJoinToken,
  issueSession,
  SESSION_AUDIENCE,
  type SigningKeyPair,
  signPolicy,
  verifyJoinToken,
  verifyPassword,
} from '@palisade/auth';
import type { DbClient } from '@palisade/db';
import { candidatesFromBehaviours } from '@palisade/policy';
import {
  type ControllerRequest,
  type ControllerStatus,
  type EnrollAccepted,
  type EnrollRequest,
  type LearnedBehaviour,
  ProtocolError,
} from '@palisade/protocol';
import { nodeColumns } from './ingest.js';
import type { CommandLog } from './log/commandLog.js';
import type { Logger } from './logger.js';
import type { Command } from './state/commands.js';
import type { ApplyResult } from './state/desiredState.js';

export interface HubOptions {
  id: string;
  heartbeatIntervalMs: number;
  now?: () => Date;
  /** This controller's Raft id, when the log is replicated. */
  raftId?: number;
  /** Counters reported in `status`. */
  stats?: () => { dropped: Record<string, number>; observationsAccepted: number };
  /** Reports the longest recent event-loop stall in `status`. */
  eventLoop?: { maxMs(): number; perSecondMs(): number[] };
  /** Publishes a signed policy for a cluster's agents (JetStream, last value per subject). */
  publishPolicy?: (cluster: string, signed: string) => Promise<void>;
}

function unwrap(result: ApplyResult): unknown {
  if (!result.ok) throw new ProtocolError(result.code, result.message);
  return result.value;
}

function randomId(prefix: string, bytes: number): string {
  return `${prefix}${randomBytes(bytes).toString('hex')}`;
}

/**
 * The controller's request handlers: desired-state operations for the console and CLI, sign-in,
 * and agent enrollment. Transport-free: `service.ts` binds these to NATS.
 */
export class Hub {
  private keys: SigningKeyPair | undefined;
  /** Per username: a few guesses, then back-off. */
  private readonly userLimiter = new FailureRateLimiter();
  /** Per client address: looser, since many users may share one address (NAT, a proxy). */
  private readonly addressLimiter = new FailureRateLimiter({
    freeAttempts: 50,
    baseDelayMs: 1000,
    maxDelayMs: 15 * 60_000,
    forgetAfterMs: 60 * 60_000,
  });
  private readonly startedAt = new Date();
  private readonly now: () => Date;

  constructor(
    private readonly log: CommandLog,
    private readonly db: DbClient,
    private readonly logger: Logger,
    private readonly options: HubOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  private async propose(command: Command): Promise<unknown> {
    return unwrap(await this.log.propose(command));
  }

  /**
   * First start: creates the hub's signing key and the first admin with a generated password.
   * Returns the admin's credentials once, for the caller to hand to the operator; never logged.
   */
  async bootstrap(): Promise<{ username: string; password: string } | null> {
    if (!this.log.state.isBootstrapped()) {
      const password = generatePassword();
      const { privateJwk } = await generateSigningJwks();
      await this.propose({
        type: 'bootstrap',
        at: this.now().toISOString(),
        signingKey: privateJwk,
        admin: {
          id: randomId('u-', 8),
          username: 'admin',
          passwordHash: await hashPassword(password),
          role: 'admin',
          scope: { all: true },
        },
      });
      this.keys = await importSigningKeyPair(privateJwk);
      return { username: 'admin', password };
    }
    const signingKey = this.log.state.getSigningKey();
    if (!signingKey) throw new Error('bootstrapped state has no signing key');
    this.keys = await importSigningKeyPair(signingKey);
    return null;
  }

  signingKeys(): SigningKeyPair {
    if (!this.keys) throw new ProtocolError('INTERNAL', 'controller is not bootstrapped yet');
    return this.keys;
  }

  status(): ControllerStatus {
    const s = this.log.status();
    const stats = this.options.stats?.() ?? { dropped: {}, observationsAccepted: 0 };
    const followers = s.followers
      ? Object.fromEntries(Object.entries(s.followers).map(([id, f]) => [id, { match: f.match, lag: f.lag }]))
      : undefined;
    return {
      id: this.options.id,
      role: s.role,
      term: s.term,
      appliedIndex: s.appliedIndex,
      startedAt: this.startedAt.toISOString(),
      ...stats,
      ...(this.options.raftId ? { raftId: this.options.raftId, leaderId: s.leaderId ?? null } : {}),
      ...(followers ? { followers } : {}),
      stateDigest: this.log.state.digest(),
      ...(this.options.eventLoop
        ? {
            eventLoopMaxMs: this.options.eventLoop.maxMs(),
            eventLoopMaxMsPerSecond: this.options.eventLoop.perSecondMs(),
          }
        : {}),
      ...(s.snapshotBytes !== undefined ? { snapshotBytes: s.snapshotBytes } : {}),
      rssBytes: process.memoryUsage.rss(),
      heapUsedBytes: process.memoryUsage().heapUsed,
    };
  }

  /** Handles one validated console/CLI request; throws ProtocolError for refusals. */
  async handle(request: ControllerRequest): Promise<unknown> {
    const state = this.log.state;
    const at = this.now().toISOString();
    switch (request.op) {
      case 'cluster.create':
        return this.propose({ type: 'cluster.create', at, ...request });
      case 'cluster.list':
        return state.listClusters();
      case 'cluster.get': {
        const cluster = state.getCluster(request.name);
        if (!cluster) throw new ProtocolError('NOT_FOUND', `cluster "${request.name}" does not exist`);
        return cluster;
      }
      case 'token.create': {
        if (!state.getCluster(request.cluster)) {
          throw new ProtocolError('NOT_FOUND', `cluster "${request.cluster}" does not exist`);
        }
        const jti = randomId('jt', 12);
        const expiresAt = new Date(Date.parse(at) + request.ttlSeconds * 1000);
        const view = await this.propose({
          type: 'token.create',
          at,
          actor: request.actor,
          cluster: request.cluster,
          jti,
          expiresAt: expiresAt.toISOString(),
        });
        const token = await issueJoinToken(
          this.signingKeys().privateKey,
          { cluster: request.cluster, jti, expiresAt },
          new Date(at),
        );
        return { token, view };
      }
      case 'token.list':
        return state.listTokens(request.cluster);
      case 'token.revoke':
        return this.propose({ type: 'token.revoke', at, ...request });
      case 'auth.login':
        return this.login(request.username, request.password, request.remoteAddress);
      case 'auth.sessionKey': {
        const { d: _secret, ...jwk } = state.getSigningKey() ?? ({} as never);
        if (!jwk.x) throw new ProtocolError('INTERNAL', 'controller is not bootstrapped yet');
        return { issuer: ISSUER, audience: SESSION_AUDIENCE, jwk };
      }
      case 'status':
        return this.status();
      case 'policy.get':
        if (!state.getCluster(request.cluster)) {
          throw new ProtocolError('NOT_FOUND', `cluster "${request.cluster}" does not exist`);
        }
        return state.getPolicy(request.cluster);
      case 'policy.set': {
        const next = { ...request.policy, revision: request.policy.revision + 1 };
        const policy = await this.propose({
          type: 'policy.set',
          at,
          actor: request.actor,
          cluster: request.cluster,
          policy: next,
        });
        return this.published(request.cluster, policy);
      }
      case 'policy.learn':
        return this.learn(request.cluster, request.nodeId, request.behaviours, at);
    }
  }

  private async login(username: string, password: string, remoteAddress: string) {
    const nowMs = this.now().getTime();
    const limits = [
      [this.userLimiter, username],
      [this.addressLimiter, remoteAddress],
    ] as const;
    const wait = Math.max(...limits.map(([limiter, key]) => limiter.retryAfterMs(key, nowMs)));
    if (wait > 0) {
      await this.auditLogin(username, 'denied', { reason: 'rate-limited' });
      throw new ProtocolError(
        'RATE_LIMITED',
        `too many failed sign-in attempts; try again in ${Math.ceil(wait / 1000)} s`,
      );
    }
    const user = this.log.state.getUser(username);
    // Unknown users take the same path and the same time as a wrong password.
    const valid = await verifyPassword(password, user?.passwordHash);
    if (!user || !valid) {
      for (const [limiter, key] of limits) limiter.recordFailure(key, nowMs);
      await this.auditLogin(username, 'denied', { reason: 'bad-credentials' });
      throw new ProtocolError('UNAUTHORIZED', 'invalid username or password');
    }
    // A success clears the user's count, not the address's: one valid login must not reset a spray.
    this.userLimiter.recordSuccess(username);
    const { token, expiresAt } = await issueSession(this.signingKeys().privateKey, user, this.now());
    await this.auditLogin(username, 'ok', {});
    return {
      session: token,
      expiresAt: expiresAt.toISOString(),
      user: { id: user.id, username: user.username, role: user.role, scope: user.scope },
    };
  }

  private async auditLogin(username: string, result: 'ok' | 'denied', details: Record<string, string>) {
    try {
      await this.db.auditLog.create({
        data: {
          actorId: '',
          actorName: username.slice(0, 64),
          action: 'auth.login',
          object: 'session',
          result,
          details,
        },
      });
    } catch (err) {
      this.logger('error', 'could not write audit log', { error: (err as Error).message });
    }
  }

  /**
   * Trades a join token for a node credential. Every check happens before anything is written; the
   * token is spent through the log, so two agents racing with one token cannot both enroll.
   */
  async enroll(request: EnrollRequest): Promise<EnrollAccepted> {
    const keys = this.signingKeys();
    const claims = await verifyJoinToken(request.token, keys.publicKey, {
      now: this.now(),
      expectedCluster: request.expectedCluster,
    });
    const at = this.now().toISOString();
    const precheck = this.log.state.checkJoinToken(claims.jti, claims.sub, at);
    if (!precheck.ok) throw new ProtocolError(precheck.code, precheck.message);
    const nodeId = randomId('n-', 8);
    await this.propose({ type: 'token.consume', at, jti: claims.jti, cluster: claims.sub, nodeId });
    const node = request.node;
    try {
      await this.db.$transaction([
        this.db.node.create({
          data: {
            id: nodeId,
            cluster: claims.sub,
            ...nodeColumns(node),
            status: 'online',
            enrolledAt: new Date(at),
            lastHeartbeatAt: new Date(at),
            statusChangedAt: new Date(at),
          },
        }),
        this.db.event.create({
          data: {
            cluster: claims.sub,
            nodeId,
            type: 'node.enrolled',
            severity: 'info',
            message: `node ${node.hostname} joined cluster ${claims.sub}`,
            data: { hostname: node.hostname, joinToken: claims.jti },
          },
        }),
      ]);
    } catch (err) {
      // The enrollment itself is committed; the agent's first node report recreates the row.
      this.logger('error', 'could not record enrolled node; it will appear with its first report', {
        nodeId,
        error: (err as Error).message,
      });
    }
    const credential = await issueAgentCredential(
      keys.privateKey,
      { cluster: claims.sub, nodeId },
      this.now(),
    );
    this.logger('info', 'node enrolled', { cluster: claims.sub, nodeId, hostname: node.hostname });
    return {
      ok: true,
      v: 1,
      cluster: claims.sub,
      nodeId,
      credential,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      hubKey: this.publicJwk(),
    };
  }

  private publicJwk(): { kty: 'OKP'; crv: 'Ed25519'; x: string } {
    const key = this.log.state.getSigningKey();
    if (!key) throw new ProtocolError('INTERNAL', 'controller is not bootstrapped yet');
    return { kty: key.kty, crv: key.crv, x: key.x };
  }

  // ---------------------------------------------------------------- policy distribution

  /**
   * Signs and publishes a cluster's current policy for its agents (last value per subject). Called
   * by the leader after every policy change and when it starts serving, so the stream always holds
   * what is committed even if an earlier leader died between commit and publish.
   */
  async publishPolicy(cluster: string): Promise<void> {
    const publish = this.options.publishPolicy;
    if (!publish) return;
    const policy = this.log.state.getPolicy(cluster);
    const envelope = { v: 1, cluster, revision: policy.revision, issuedAt: this.now().toISOString(), policy };
    await publish(cluster, await signPolicy(envelope, this.signingKeys().privateKey));
  }

  async publishAllPolicies(): Promise<void> {
    for (const cluster of this.log.state.policyClusters()) await this.publishPolicy(cluster);
  }

  /** Publishes after a committed change; a failed publish is logged and retried on the next change or leader start. */
  private async published<T>(cluster: string, result: T): Promise<T> {
    await this.publishPolicy(cluster).catch((err: Error) =>
      this.logger('error', 'could not publish the policy to agents', { cluster, error: err.message }),
    );
    return result;
  }

  /** Turns Discover-mode behaviour from an agent into rules of the groups that are still learning. */
  private async learn(
    cluster: string,
    nodeId: string,
    behaviours: LearnedBehaviour[],
    at: string,
  ): Promise<{ added: number; revision: number }> {
    const policy = this.log.state.getPolicy(cluster);
    let added = 0;
    for (const group of policy.groups) {
      const mine = behaviours.filter(
        (b) =>
          b.group === group.name && (group.modes?.[b.kind] ?? policy.defaults.modes[b.kind]) === 'discover',
      );
      if (mine.length === 0) continue;
      const candidates = candidatesFromBehaviours(mine);
      const result = (await this.propose({
        type: 'policy.learn',
        at,
        cluster,
        nodeId,
        group: group.name,
        rules: { process: candidates.process, file: candidates.file, network: candidates.network },
      })) as { added: number };
      added += result.added;
    }
    const revision = this.log.state.getPolicy(cluster).revision;
    return added > 0 ? this.published(cluster, { added, revision }) : { added, revision };
  }
}
