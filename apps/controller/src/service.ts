import {
  AckPolicy,
  DiscardPolicy,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { type Msg, type NatsConnection, nanos } from '@nats-io/transport-node';
import {
  CONTROLLER_QUEUE,
  ControllerRequest,
  decode,
  EnrollRequest,
  type ErrorReply,
  encode,
  type LearnedBehaviour,
  OBSERVATION_CONSUMER,
  ProtocolError,
  subjects,
} from '@palisade/protocol';
import type { Hub } from './hub.js';
import type { ObservationIngest } from './ingest.js';
import type { DropCounter, Logger } from './logger.js';

function errorReply(err: unknown): ErrorReply {
  if (err instanceof ProtocolError) return { ok: false, error: { code: err.code, message: err.message } };
  return { ok: false, error: { code: 'INTERNAL', message: 'internal error; see the controller log' } };
}

function respond(msg: Msg, body: unknown): void {
  if (msg.reply) msg.respond(encode(body));
}

/**
 * Binds the hub's handlers to NATS request/reply subjects, in the controllers' queue group. With
 * replicated controllers only the leader serves them (see main.ts), so writes always reach the leader;
 * `stop()` leaves the queue group when leadership is lost.
 */
export function serveRequests(
  nc: NatsConnection,
  hub: Hub,
  drops: DropCounter,
  log: Logger,
): { stop(): void } {
  const controller = nc.subscribe(subjects.controller, {
    queue: CONTROLLER_QUEUE,
    callback: (_err, msg) => {
      const request = decode(ControllerRequest, msg.data);
      if (!request.ok) {
        drops.drop('malformed-controller-request', { error: request.error });
        respond(msg, errorReply(new ProtocolError('BAD_REQUEST', request.error)));
        return;
      }
      hub.handle(request.value).then(
        (result) => respond(msg, { ok: true, result }),
        (err: unknown) => {
          if (!(err instanceof ProtocolError)) {
            log('error', 'request failed', { op: request.value.op, error: (err as Error).message });
          }
          respond(msg, errorReply(err));
        },
      );
    },
  });
  const enroll = nc.subscribe(subjects.enroll, {
    queue: CONTROLLER_QUEUE,
    callback: (_err, msg) => {
      const request = decode(EnrollRequest, msg.data);
      if (!request.ok) {
        drops.drop('malformed-enrollment', { error: request.error });
        respond(msg, errorReply(new ProtocolError('BAD_REQUEST', request.error)));
        return;
      }
      hub.enroll(request.value).then(
        (accepted) => respond(msg, accepted),
        (err: unknown) => {
          const code = err instanceof ProtocolError ? err.code : 'INTERNAL';
          log(code === 'INTERNAL' ? 'error' : 'warn', 'enrollment refused', {
            code,
            hostname: request.value.node.hostname,
            ...(code === 'INTERNAL' ? { error: (err as Error).message } : {}),
          });
          respond(msg, errorReply(err));
        },
      );
    },
  });
  return {
    stop() {
      controller.unsubscribe();
      enroll.unsubscribe();
    },
  };
}

/** Every replica answers status requests on its own (request-many), so operators see them all. */
export function serveStatus(nc: NatsConnection, hub: Hub): void {
  nc.subscribe(subjects.controllerStatus, {
    callback: (_err, msg) => respond(msg, { ok: true, result: hub.status() }),
  });
}

/** The policy stream: the latest signed policy per cluster, kept until replaced. */
export async function ensurePolicyStream(jsm: JetStreamManager): Promise<void> {
  const config = {
    name: subjects.policyStream,
    subjects: [subjects.policyWildcard],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_msgs_per_subject: 1,
    discard: DiscardPolicy.Old,
  };
  await ensureStream(jsm, config);
}

/** Creates a stream, or brings an existing one to `config`. */
async function ensureStream(
  jsm: JetStreamManager,
  config: Parameters<JetStreamManager['streams']['add']>[0] & { name: string },
) {
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config);
  } catch {
    await jsm.streams.add(config);
  }
}

/**
 * Publisher for `Hub.publishPolicy`: the stream is (re)declared on first use, and a publish only
 * resolves once JetStream has stored the message.
 */
export function policyPublisher(nc: NatsConnection): (cluster: string, signed: string) => Promise<void> {
  let ready: Promise<void> | undefined;
  return async (cluster, signed) => {
    ready ??= jetstreamManager(nc).then(ensurePolicyStream);
    try {
      await ready;
    } catch (err) {
      ready = undefined;
      throw err;
    }
    await jetstream(nc).publish(subjects.policy(cluster), new TextEncoder().encode(signed));
  };
}

/** Sends Discover-mode behaviour to whichever replica leads (possibly this one) as a controller request. */
export function learnedForwarder(nc: NatsConnection) {
  return async (cluster: string, nodeId: string, behaviours: LearnedBehaviour[]): Promise<void> => {
    const reply = await nc.request(
      subjects.controller,
      encode({ op: 'policy.learn', cluster, nodeId, behaviours }),
      {
        timeout: 5000,
      },
    );
    const decoded = JSON.parse(new TextDecoder().decode(reply.data)) as {
      ok?: boolean;
      error?: { message?: string };
    };
    if (!decoded.ok)
      throw new Error(`the leader refused learned rules: ${decoded.error?.message ?? 'unknown error'}`);
  };
}

/** Creates (or updates) the observation stream and the controllers' shared work-queue consumer. */
export async function ensureObservationStream(jsm: JetStreamManager): Promise<void> {
  const config = {
    name: subjects.observationStream,
    subjects: [subjects.observationWildcard],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    // Bounded: a hub that is down for days keeps the newest week, at most 1 GiB.
    max_age: nanos(7 * 24 * 3600 * 1000),
    max_bytes: 1024 * 1024 * 1024,
    discard: DiscardPolicy.Old,
  };
  await ensureStream(jsm, config);
  try {
    await jsm.consumers.info(config.name, OBSERVATION_CONSUMER);
  } catch {
    await jsm.consumers.add(config.name, {
      durable_name: OBSERVATION_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(30_000),
      max_ack_pending: 1000,
    });
  }
}

/**
 * Consumes observations until `signal` aborts. Messages are acknowledged only after they are
 * stored; invalid ones are terminated (never redelivered); database failures are redelivered later.
 */
export async function consumeObservations(
  nc: NatsConnection,
  ingest: ObservationIngest,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  const js = jetstream(nc);
  while (!signal.aborted) {
    try {
      await ensureObservationStream(await jetstreamManager(nc));
      const consumer = await js.consumers.get(subjects.observationStream, OBSERVATION_CONSUMER);
      const messages = await consumer.consume({ max_messages: 256 });
      signal.addEventListener('abort', () => void messages.close(), { once: true });
      for await (const m of messages) {
        const disposition = await ingest.handle(m.subject, m.data, m.time);
        if (disposition === 'ack') m.ack();
        else if (disposition === 'term') m.term();
        else m.nak(2000);
      }
    } catch (err) {
      if (signal.aborted) break;
      log('warn', 'observation consumer interrupted; retrying', { error: (err as Error).message });
    }
    if (!signal.aborted) await new Promise((r) => setTimeout(r, 1000));
  }
}
