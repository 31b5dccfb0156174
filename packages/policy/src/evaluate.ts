import type { ContainerPolicy, FileId, Mode } from './enforcement.js';
import { cidrContains, parseCidr, parseIp, unmapV4 } from './ip.js';

/** Something a process in the container tries to do, as the kernel side sees it. */
export type Action =
  | { kind: 'process'; file: FileId }
  | {
      kind: 'file';
      file: FileId;
      /** The directory the file was opened through and its name there, for directory rules. */
      parent?: FileId;
      name?: string;
      /** Opened with write intent (O_WRONLY, O_RDWR, O_TRUNC, O_CREAT ...). */
      write: boolean;
    }
  | { kind: 'network'; daddr: string; dport: number; protocol: 'tcp' | 'udp' };

export type Decision = 'allow' | 'alert' | 'deny';

export interface Verdict {
  decision: Decision;
  /** True when the back-end reports an event: Discover (learning), Monitor (alert), Protect (deny). */
  event: boolean;
  /** False when the action is covered by the policy's allow rules (or is not guarded at all). */
  guarded: boolean;
}

const sameFile = (a: FileId, b: FileId) => a.dev === b.dev && a.ino === b.ino;

/** Whether the action needs the mode's say: not allowed by a rule, or a write to a protected file. */
function isGuarded(policy: ContainerPolicy, action: Action): boolean {
  switch (action.kind) {
    case 'process':
      return !policy.execAllow.some((e) => sameFile(e, action.file));
    case 'file': {
      if (!action.write) return false;
      return policy.fileProtect.some((p) => {
        if (!p.dir) return sameFile(p.id, action.file);
        if (!action.parent || action.name === undefined || !sameFile(p.id, action.parent)) return false;
        return action.name.startsWith(p.namePrefix ?? '');
      });
    }
    case 'network': {
      const parsed = parseIp(action.daddr);
      if (!parsed) return true;
      const ip = unmapV4(parsed);
      return !policy.netAllow.some((a) => {
        const cidr = parseCidr(`${a.addr}/${a.prefixLen}`);
        return (
          cidr !== undefined &&
          cidrContains(cidr, ip) &&
          (a.port === 0 || a.port === action.dport) &&
          (a.protocol === 'any' || a.protocol === action.protocol)
        );
      });
    }
  }
}

const byMode: Record<Mode, Decision> = { discover: 'allow', monitor: 'alert', protect: 'deny' };

/**
 * The reference semantics the kernel side implements: an allowed action (or a read, or a write to an
 * unprotected file) passes silently; anything else passes with a learning event in Discover, passes
 * with an alert in Monitor and is refused in Protect. IPv4-mapped IPv6 peers (::ffff:a.b.c.d) are
 * matched as the IPv4 address they stand for.
 */
export function evaluate(policy: ContainerPolicy, action: Action): Verdict {
  if (!isGuarded(policy, action)) return { decision: 'allow', event: false, guarded: false };
  return { decision: byMode[policy.modes[action.kind]], event: true, guarded: true };
}

export function decide(policy: ContainerPolicy, action: Action): Decision {
  return evaluate(policy, action).decision;
}
