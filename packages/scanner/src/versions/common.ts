/** Thrown for input the scheme defines as invalid: SemVer 2.0, PEP 440, npm ranges, Cargo requirements. */
export class InvalidVersionError extends Error {
  override readonly name = 'InvalidVersionError';
  /** The scheme that rejected the input, e.g. `SemVer 2.0`, `PEP 440`, `npm range`. */
  readonly scheme: string;
  /** The rejected input exactly as given. */
  readonly input: string;
  /** Why it was rejected, e.g. `numeric pre-release identifier "01" has a leading zero`. */
  readonly reason: string;
  /** Set when the error passed through `compareVersions` / `isValidVersion`. */
  readonly ecosystem: string | undefined;

  constructor(scheme: string, input: unknown, reason: string, ecosystem?: string) {
    const shown = typeof input === 'string' ? JSON.stringify(input) : `(${typeof input})`;
    const where = ecosystem ? `${ecosystem} (${scheme})` : scheme;
    const noun = /range|requirement/.test(scheme) ? '' : ' version';
    super(`invalid ${where}${noun} ${shown}: ${reason}`);
    this.scheme = scheme;
    this.input = typeof input === 'string' ? input : String(input);
    this.reason = reason;
    this.ecosystem = ecosystem;
  }
}

/** Maps a comparison result of any sign and size to -1 | 0 | 1. */
export function sign(n: number | bigint): -1 | 0 | 1 {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

export function isAsciiDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

export function isAsciiLetter(c: string | undefined): boolean {
  return c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

/** Compares two non-empty runs of ASCII digits numerically, whatever their length (leading zeros ignored). */
export function compareDigitRuns(a: string, b: string): -1 | 0 | 1 {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Plain code-unit comparison, as C's strcmp/memcmp on ASCII. */
export function compareStrings(a: string, b: string): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}
