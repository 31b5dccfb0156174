/**
 * Alpine (apk-tools) package versions: `digits{.digits}[letter]{_suffix[digits]}[~hash][-rN]`.
 *
 * The version is read as a stream of tokens, each of a kind that may only follow certain kinds:
 * an initial number, `.number`s, one lower-case letter, `_suffix` with an optional number (any number of
 * them), one `~` commit hash (lower-case hex) and one `-r` revision. Two versions are compared token by
 * token while both have a token of the same kind:
 * - numbers compare numerically, except that a `.number` with a leading zero on either side compares as a
 *   string (so `1.02 < 1.1` and `8.2.0 < 8.2.001`, like Gentoo);
 * - suffixes rank `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`;
 * - letters by character, commit hashes as strings, revisions numerically.
 * When the kinds differ (or one side ends), a pre-release suffix (`_alpha`, `_beta`, `_pre`, `_rc`) makes
 * its side older; otherwise the side whose token kind comes later in the order above is older, and the
 * end of the string comes after all of them: so `1.0 < 1.0.1`, `1.0 < 1.0a`, `1.0_rc1 < 1.0 < 1.0_p1`,
 * `1.0 < 1.0-r1`.
 *
 * Like `apk version -t`, comparison is lenient: something that does not fit the grammar (an unknown
 * suffix, a second letter, `-` not followed by `r`, an upper-case letter …) ends the token stream with an
 * "invalid" token, which ranks after the end of the string (an invalid tail makes a version older than
 * the same version without it); two streams that turn invalid at the same point compare equal. For
 * compatibility with apk-tools 2.x and Gentoo, digits right after the letter (`6.6.2p1`) are read as a
 * number when comparing, although `isValidApkVersion` rejects them as current apk-tools does.
 */
import { compareStrings, isAsciiDigit, sign } from './common.js';

enum Kind {
  InitialDigit = 0,
  Digit = 1,
  Letter = 2,
  Suffix = 3,
  SuffixNumber = 4,
  CommitHash = 5,
  Revision = 6,
  End = 7,
  Invalid = 8,
}

/** Suffix ranks; 0 is "no suffix", below it the pre-releases, above it the post-releases. */
const SUFFIXES: ReadonlyMap<string, number> = new Map([
  ['alpha', -4],
  ['beta', -3],
  ['pre', -2],
  ['rc', -1],
  ['cvs', 1],
  ['svn', 2],
  ['git', 3],
  ['hg', 4],
  ['p', 5],
]);

interface Token {
  kind: Kind;
  /** The digits / letter / hash as written ('' for an empty number). */
  text: string;
  /** Numeric value for numbers, the rank for suffixes. */
  value: bigint;
  /** Set when the token is accepted for comparison but not by the version grammar. */
  lenient?: boolean;
}

const isLower = (c: string | undefined): boolean => c !== undefined && c >= 'a' && c <= 'z';
const isHex = (c: string | undefined): boolean =>
  isAsciiDigit(c) || (c !== undefined && c >= 'a' && c <= 'f');

class Tokens {
  private pos = 0;
  private prev: Kind = Kind.InitialDigit;
  private first = true;

  constructor(private readonly s: string) {}

  private span(pred: (c: string | undefined) => boolean): string {
    const start = this.pos;
    while (this.pos < this.s.length && pred(this.s[this.pos])) this.pos++;
    return this.s.slice(start, this.pos);
  }

  private number(kind: Kind, lenient = false): Token {
    const text = this.span(isAsciiDigit);
    return { kind, text, value: text === '' ? 0n : BigInt(text), lenient: lenient || text === '' };
  }

  next(): Token {
    const t = this.read();
    this.prev = t.kind;
    return t;
  }

  private read(): Token {
    if (this.first) {
      this.first = false;
      return this.number(Kind.InitialDigit);
    }
    const invalid: Token = { kind: Kind.Invalid, text: this.s.slice(this.pos), value: 0n };
    if (this.prev === Kind.Invalid) return invalid;
    if (this.pos >= this.s.length) return { kind: Kind.End, text: '', value: 0n };
    const c = this.s[this.pos];
    const p = this.prev;
    if (isLower(c)) {
      if (p > Kind.Digit) return invalid;
      this.pos++;
      return { kind: Kind.Letter, text: c as string, value: BigInt((c as string).charCodeAt(0)) };
    }
    if (c === '.') {
      if (p > Kind.Digit) return invalid;
      this.pos++;
      return this.number(Kind.Digit);
    }
    if (isAsciiDigit(c)) {
      if (p === Kind.Suffix) return this.number(Kind.SuffixNumber);
      if (p === Kind.Letter) return this.number(Kind.Digit, true);
      return invalid;
    }
    if (c === '_') {
      if (p > Kind.SuffixNumber) return invalid;
      this.pos++;
      const word = this.span(isLower);
      const rank = SUFFIXES.get(word);
      if (rank === undefined) return invalid;
      return { kind: Kind.Suffix, text: word, value: BigInt(rank) };
    }
    if (c === '~') {
      if (p >= Kind.CommitHash) return invalid;
      this.pos++;
      const hash = this.span(isHex);
      if (hash === '') return invalid;
      return { kind: Kind.CommitHash, text: hash, value: 0n };
    }
    if (c === '-') {
      if (p >= Kind.Revision || this.s[this.pos + 1] !== 'r') return invalid;
      this.pos += 2;
      return this.number(Kind.Revision);
    }
    return invalid;
  }
}

function compareTokens(a: Token, b: Token): -1 | 0 | 1 {
  switch (a.kind) {
    case Kind.Digit:
      if (a.text.startsWith('0') || b.text.startsWith('0')) return compareStrings(a.text, b.text);
      return sign(a.value - b.value);
    case Kind.CommitHash:
      return compareStrings(a.text, b.text);
    default:
      return sign(a.value - b.value);
  }
}

const isPreRelease = (t: Token): boolean => t.kind === Kind.Suffix && t.value < 0n;

/**
 * Compares two apk versions; with `fuzzy`, `a` also counts as equal to `b` when `b` is a prefix of it
 * in tokens (apk's `~` operator: `3.6.9 ~ 3.6`).
 */
export function compareApk(a: string, b: string, fuzzy = false): -1 | 0 | 1 {
  const ta = new Tokens(a);
  const tb = new Tokens(b);
  let x = ta.next();
  let y = tb.next();
  while (x.kind === y.kind && x.kind < Kind.End) {
    const c = compareTokens(x, y);
    if (c !== 0) return c;
    x = ta.next();
    y = tb.next();
  }
  if (x.kind === y.kind) return 0;
  if (fuzzy && y.kind === Kind.End) return 0;
  if (isPreRelease(x)) return -1;
  if (isPreRelease(y)) return 1;
  return x.kind > y.kind ? -1 : 1;
}

/** apk's fuzzy match `version ~ pattern`: every token of `pattern` equals the one in `version`. */
export function apkFuzzyMatch(version: string, pattern: string): boolean {
  return compareApk(version, pattern, true) === 0;
}

export type ApkOperator = '<' | '<=' | '=' | '>=' | '>' | '!=' | '~' | '<~' | '>~';

/** Whether `version OP other` holds, with apk's dependency operators (`<~`: older or fuzzy-equal). */
export function apkVersionMatches(version: string, op: ApkOperator, other: string): boolean {
  const c = compareApk(version, other);
  switch (op) {
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '=':
      return c === 0;
    case '>=':
      return c >= 0;
    case '>':
      return c > 0;
    case '!=':
      return c !== 0;
    case '~':
      return apkFuzzyMatch(version, other);
    case '<~':
      return c < 0 || apkFuzzyMatch(version, other);
    case '>~':
      return c > 0 || apkFuzzyMatch(version, other);
  }
}

/** Whether `version` fits the apk version grammar (what current apk-tools accepts as valid). */
export function isValidApkVersion(version: string): boolean {
  const t = new Tokens(version);
  for (;;) {
    const tok = t.next();
    if (tok.kind === Kind.End) return true;
    if (tok.kind === Kind.Invalid || tok.lenient) return false;
  }
}
