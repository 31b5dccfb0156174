// Logger is injected through Config.logger, so the core never writes to the console on its own and a
// simulation run can capture (or silence) every line deterministically.

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** silentLogger discards everything (the default). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** bufferLogger collects lines (prefixed with their level) into `lines`, e.g. to print on failure. */
export function bufferLogger(prefix = '', limit = 10_000): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (lvl: string) => (msg: string) => {
    lines.push(`${lvl} ${prefix}${msg}`);
    if (lines.length > limit) lines.splice(0, lines.length - limit);
  };
  return { lines, debug: push('D'), info: push('I'), warn: push('W'), error: push('E') };
}
