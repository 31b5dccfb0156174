/** JSON-lines logger. Callers pass fields, never secrets: tokens, passwords and keys stay out of logs. */
export type Logger = (
  level: 'info' | 'warn' | 'error',
  msg: string,
  fields?: Record<string, unknown>,
) => void;

export function jsonLogger(component: string, out: NodeJS.WritableStream = process.stdout): Logger {
  return (level, msg, fields) => {
    out.write(`${JSON.stringify({ t: new Date().toISOString(), level, component, msg, ...fields })}\n`);
  };
}

/** Counts dropped inputs per reason so operators can see a misbehaving peer without log spam. */
export class DropCounter {
  readonly counts = new Map<string, number>();
  constructor(private readonly log: Logger) {}

  drop(reason: string, fields: Record<string, unknown> = {}): void {
    const n = (this.counts.get(reason) ?? 0) + 1;
    this.counts.set(reason, n);
    // Log the first few of each reason, then every 1000th, so a flood cannot fill the disk.
    if (n <= 10 || n % 1000 === 0) this.log('warn', 'dropped message', { reason, count: n, ...fields });
  }

  total(): number {
    let sum = 0;
    for (const n of this.counts.values()) sum += n;
    return sum;
  }
}
