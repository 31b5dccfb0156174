import type { NatsConnection } from '@nats-io/transport-node';
import {
  decode,
  encode,
  ProtocolError,
  type RegistryScanRequest,
  ScanReply,
  type ScanSummary,
  subjects,
} from '@palisade/protocol';

/** Asks the hub's scanners (any one, via their queue group) to scan a registry image. */
export class ScannerClient {
  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 300_000,
  ) {}

  async scan(request: RegistryScanRequest): Promise<ScanSummary> {
    let data: Uint8Array;
    try {
      data = (await this.nc.request(subjects.scanRequest, encode(request), { timeout: this.timeoutMs })).data;
    } catch (err) {
      throw new ProtocolError('INTERNAL', `no scanner answered: ${(err as Error).message}`);
    }
    const reply = decode(ScanReply, data);
    if (!reply.ok) throw new ProtocolError('INTERNAL', `malformed scanner reply: ${reply.error}`);
    if (!reply.value.ok) {
      throw new ProtocolError(
        reply.value.error.code === 'BAD_REQUEST' ? 'BAD_REQUEST' : 'INTERNAL',
        `scan failed: ${reply.value.error.message}`,
      );
    }
    return reply.value.summary;
  }
}
