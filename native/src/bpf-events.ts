/**
 * Decoding of the raw event records (struct pal_event, see bpf/palisade.h) that the addon hands
 * over in batches. Pure: a Buffer and the addon's layout in, EnforcementEvents out.
 */
import type { EnforcementEvent, Mechanism, RuleKind } from '@palisade/policy';

/** Byte offsets of struct pal_event's fields, as reported by the addon (offsetof). */
export interface EventLayout {
  size: number;
  timeNs: number;
  cgroupId: number;
  ino: number;
  dev: number;
  pid: number;
  flags: number;
  kind: number;
  action: number;
  mechanism: number;
  family: number;
  proto: number;
  dport: number;
  daddr: number;
  comm: number;
  commLen: number;
  path: number;
  pathLen: number;
}

const KINDS: readonly RuleKind[] = ['process', 'file', 'network'];
const ACTIONS: readonly EnforcementEvent['action'][] = ['allow', 'alert', 'deny'];
const MECHANISMS: readonly Mechanism[] = ['bpf-lsm', 'tp_btf-kill', 'cgroup-connect'];
const PROTO_UDP = 17;

/** Decodes `buf.length / layout.size` records; a trailing partial record is an error. */
export function decodeEvents(buf: Buffer, layout: EventLayout): EnforcementEvent[] {
  if (buf.length % layout.size !== 0) {
    throw new Error(`event buffer of ${buf.length} bytes is not a multiple of ${layout.size}`);
  }
  const out: EnforcementEvent[] = new Array(buf.length / layout.size);
  for (let i = 0, base = 0; base < buf.length; i++, base += layout.size) {
    const kind = KINDS[buf[base + layout.kind] ?? 0] ?? 'process';
    const event: EnforcementEvent = {
      kind,
      action: ACTIONS[buf[base + layout.action] ?? 0] ?? 'alert',
      mechanism: MECHANISMS[buf[base + layout.mechanism] ?? 0] ?? 'bpf-lsm',
      cgroupId: buf.readBigUInt64LE(base + layout.cgroupId),
      pid: buf.readUInt32LE(base + layout.pid),
      comm: cString(buf, base + layout.comm, layout.commLen),
      timeNs: buf.readBigUInt64LE(base + layout.timeNs),
    };
    if (kind === 'network') {
      const family = buf[base + layout.family] === 6 ? 6 : 4;
      event.family = family;
      event.daddr = formatAddr(buf.subarray(base + layout.daddr, base + layout.daddr + 16), family);
      event.dport = buf.readUInt16LE(base + layout.dport);
      event.protocol = buf[base + layout.proto] === PROTO_UDP ? 'udp' : 'tcp';
    } else {
      event.path = cString(buf, base + layout.path, layout.pathLen);
      event.file = {
        dev: BigInt(buf.readUInt32LE(base + layout.dev)),
        ino: buf.readBigUInt64LE(base + layout.ino),
      };
      if (kind === 'file') event.flags = buf.readUInt32LE(base + layout.flags);
    }
    out[i] = event;
  }
  return out;
}

function cString(buf: Buffer, start: number, max: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end < 0 || end > start + max ? start + max : end);
}

/** Text form of an address (RFC 5952 for IPv6: lower case, longest zero run as "::"). */
export function formatAddr(bytes: Uint8Array, family: 4 | 6): string {
  if (family === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number[]) => g.map((x) => x.toString(16)).join(':');
  if (bestLen < 2) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}
