import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { importVerifyKey, verifyPolicy } from '@palisade/auth';
import { type ClusterPolicy, PolicyEnvelope, subjects } from '@palisade/protocol';
import type { Log } from '../agent.js';
import { writeFileAtomic } from '../credential.js';

export type HubKey = { kty: 'OKP'; crv: 'Ed25519'; x: string };

/**
 * The cluster's signed policy: followed on the hub's policy stream (last value per subject) and
 * cached on disk, so a restarted agent enforces its last good policy before (or without) reaching the
 * hub. Signatures are verified before the payload is parsed; a bad, foreign or older policy is
 * refused and the current one stays.
 */
export class PolicySource {
  private current: ClusterPolicy | undefined;

  constructor(
    private readonly cluster: string,
    private readonly hubKey: HubKey,
    private readonly stateDir: string,
    private readonly log: Log,
    private readonly onPolicy: (policy: ClusterPolicy) => void,
    private readonly onReject: (reason: string) => void,
  ) {}

  get policy(): ClusterPolicy | undefined {
    return this.current;
  }

  private get cachePath(): string {
    return join(this.stateDir, 'policy.jws');
  }

  /** Enforces the cached policy, if any (re-verified: the file may have been tampered with). */
  async loadCached(): Promise<void> {
    const jws = await readFile(this.cachePath, 'utf8').catch(() => undefined);
    if (jws) await this.accept(jws.trim(), 'cache');
  }

  /** Verifies, validates and applies one signed policy; returns whether it was taken. */
  async accept(jws: string, from: 'hub' | 'cache'): Promise<boolean> {
    let payload: unknown;
    try {
      payload = await verifyPolicy(jws, await importVerifyKey(this.hubKey));
    } catch (err) {
      return this.reject(`policy signature rejected (${from}): ${(err as Error).message}`);
    }
    const envelope = PolicyEnvelope.safeParse(payload);
    if (!envelope.success) {
      const first = envelope.error.issues[0];
      return this.reject(
        `invalid signed policy (${from}): ${first?.path.join('.') ?? ''}: ${first?.message ?? ''}`,
      );
    }
    const { policy } = envelope.data;
    if (policy.cluster !== this.cluster) {
      return this.reject(`policy for cluster "${policy.cluster}" refused: this node is in "${this.cluster}"`);
    }
    if (this.current && policy.revision <= this.current.revision) {
      if (policy.revision < this.current.revision)
        this.log('warn', 'ignoring an older policy revision', {
          revision: policy.revision,
          current: this.current.revision,
        });
      return false;
    }
    this.current = policy;
    if (from === 'hub') await writeFileAtomic(this.cachePath, `${jws}\n`);
    this.log('info', 'policy accepted', { revision: policy.revision, groups: policy.groups.length, from });
    this.onPolicy(policy);
    return true;
  }

  private reject(reason: string): false {
    this.log('warn', reason);
    this.onReject(reason);
    return false;
  }

  /** Follows the policy stream until `signal` aborts; retries while the stream does not exist yet. */
  async follow(nc: NatsConnection, signal: AbortSignal): Promise<void> {
    const js = jetstream(nc);
    while (!signal.aborted) {
      try {
        const consumer = await js.consumers.get(subjects.policyStream, {
          filter_subjects: subjects.policy(this.cluster),
          deliver_policy: DeliverPolicy.LastPerSubject,
        });
        const messages = await consumer.consume();
        const onAbort = () => void messages.close();
        signal.addEventListener('abort', onAbort, { once: true });
        for await (const m of messages) await this.accept(new TextDecoder().decode(m.data), 'hub');
        signal.removeEventListener('abort', onAbort);
      } catch (err) {
        if (signal.aborted) break;
        // No policy published for this cluster yet, or NATS reconnecting.
        this.log('info', 'waiting for the cluster policy stream', { error: (err as Error).message });
      }
      if (!signal.aborted) await new Promise((r) => setTimeout(r, 2000));
    }
  }
}
