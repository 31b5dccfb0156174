// The simulated application: a key-value store replicated through the log, and its client commands.

const enc = new TextEncoder();
const dec = new TextDecoder();

/** KvCommand is a client put carried in a normal log entry. */
export interface KvCommand {
  /** client id and per-client sequence number: identify the operation. */
  readonly c: number;
  readonly s: number;
  readonly k: string;
  readonly v: string;
}

export function encodeCommand(cmd: KvCommand): Uint8Array {
  return enc.encode(JSON.stringify(cmd));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(dec.decode(data)) as KvCommand;
}

/** KvStore is the state machine. Its snapshot is the sorted JSON of its pairs. */
export class KvStore {
  private map = new Map<string, string>();

  get(k: string): string | null {
    return this.map.get(k) ?? null;
  }

  put(k: string, v: string): void {
    this.map.set(k, v);
  }

  /** hash is a canonical rendering of the whole state (small maps only). */
  hash(): string {
    return JSON.stringify([...this.map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
  }

  snapshot(): Uint8Array {
    return enc.encode(this.hash());
  }

  static restore(data: Uint8Array): KvStore {
    const kv = new KvStore();
    if (data.byteLength > 0)
      for (const [k, v] of JSON.parse(dec.decode(data)) as [string, string][]) kv.put(k, v);
    return kv;
  }
}
