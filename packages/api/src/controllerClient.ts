import type { NatsConnection } from '@nats-io/transport-node';
import {
  type ControllerOp,
  ControllerReply,
  type ControllerRequestInput,
  type ControllerResult,
  ControllerResults,
  ControllerStatus,
  decode,
  encode,
  ProtocolError,
  subjects,
} from '@palisade/protocol';

/** Sends desired-state commands and reads to the controllers over NATS request/reply. */
export class ControllerClient {
  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 5000,
  ) {}

  /** Every controller replica's own status (leader or not), gathered for up to `maxWaitMs`. */
  async statuses(maxWaitMs = 500): Promise<ControllerStatus[]> {
    const out: ControllerStatus[] = [];
    try {
      const replies = await this.nc.requestMany(subjects.controllerStatus, encode({}), {
        strategy: 'timer',
        maxWait: maxWaitMs,
      });
      for await (const msg of replies) {
        const reply = decode(ControllerReply, msg.data);
        if (!reply.ok || !reply.value.ok) continue;
        const status = ControllerStatus.safeParse(reply.value.result);
        if (status.success) out.push(status.data);
      }
    } catch (err) {
      throw new ProtocolError('INTERNAL', `controllers unavailable: ${(err as Error).message}`);
    }
    return out.sort((a, b) => (a.raftId ?? 0) - (b.raftId ?? 0) || a.id.localeCompare(b.id));
  }

  async call<Op extends ControllerOp>(
    request: Extract<ControllerRequestInput, { op: Op }>,
  ): Promise<ControllerResult<Op>> {
    let data: Uint8Array;
    try {
      const msg = await this.nc.request(subjects.controller, encode(request), { timeout: this.timeoutMs });
      data = msg.data;
    } catch (err) {
      // No responders or a timeout: the controllers are down or partitioned from us.
      throw new ProtocolError('INTERNAL', `controller unavailable: ${(err as Error).message}`);
    }
    const reply = decode(ControllerReply, data);
    if (!reply.ok) throw new ProtocolError('INTERNAL', `malformed controller reply: ${reply.error}`);
    if (!reply.value.ok) throw new ProtocolError(reply.value.error.code, reply.value.error.message);
    const schema = ControllerResults[request.op as Op];
    const result = schema.safeParse(reply.value.result);
    if (!result.success)
      throw new ProtocolError('INTERNAL', `controller reply for ${request.op} does not match its schema`);
    return result.data as ControllerResult<Op>;
  }
}
