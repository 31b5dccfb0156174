/**
 * SPDX license expressions (SPDX 2.3 Annex D), checked strictly enough that the SBOM writers never
 * emit an invalid one.
 *
 * Grammar accepted: license ids (optionally with `+`), `WITH <exception>`, `AND`, `OR`, parentheses.
 * Operators are case-sensitive (Annex D), ids case-insensitive and rewritten in their canonical case.
 * Precedence: WITH binds tighter than AND, which binds tighter than OR.
 *
 * Ids are only accepted from {@link LICENSE_IDS}, a hand-picked subset of the SPDX License List that
 * covers what Debian, Alpine, npm, Go, Maven and PyPI packages commonly declare (a test checks every one
 * against the official list shipped with the CycloneDX schema). `LicenseRef-…` is refused: it would need
 * a `hasExtractedLicensingInfos` entry with the licence text, which an inventory does not carry.
 */

/** SPDX License List ids (non-deprecated) this module recognises. */
export const LICENSE_IDS: readonly string[] = [
  '0BSD',
  'AFL-2.1',
  'AFL-3.0',
  'AGPL-1.0-only',
  'AGPL-1.0-or-later',
  'AGPL-3.0-only',
  'AGPL-3.0-or-later',
  'APSL-2.0',
  'Apache-1.0',
  'Apache-1.1',
  'Apache-2.0',
  'Artistic-1.0',
  'Artistic-1.0-Perl',
  'Artistic-2.0',
  'BSD-1-Clause',
  'BSD-2-Clause',
  'BSD-2-Clause-Patent',
  'BSD-3-Clause',
  'BSD-3-Clause-Clear',
  'BSD-4-Clause',
  'BSD-Source-Code',
  'BSL-1.0',
  'BlueOak-1.0.0',
  'CC-BY-3.0',
  'CC-BY-4.0',
  'CC-BY-SA-3.0',
  'CC-BY-SA-4.0',
  'CC0-1.0',
  'CDDL-1.0',
  'CDDL-1.1',
  'CPL-1.0',
  'ECL-2.0',
  'EPL-1.0',
  'EPL-2.0',
  'EUPL-1.1',
  'EUPL-1.2',
  'FTL',
  'GFDL-1.1-only',
  'GFDL-1.1-or-later',
  'GFDL-1.2-only',
  'GFDL-1.2-or-later',
  'GFDL-1.3-only',
  'GFDL-1.3-or-later',
  'GPL-1.0-only',
  'GPL-1.0-or-later',
  'GPL-2.0-only',
  'GPL-2.0-or-later',
  'GPL-3.0-only',
  'GPL-3.0-or-later',
  'HPND',
  'ICU',
  'IJG',
  'ISC',
  'LGPL-2.0-only',
  'LGPL-2.0-or-later',
  'LGPL-2.1-only',
  'LGPL-2.1-or-later',
  'LGPL-3.0-only',
  'LGPL-3.0-or-later',
  'Libpng',
  'MIT',
  'MIT-0',
  'MPL-1.0',
  'MPL-1.1',
  'MPL-2.0',
  'MPL-2.0-no-copyleft-exception',
  'MS-PL',
  'MS-RL',
  'NCSA',
  'OFL-1.1',
  'OLDAP-2.8',
  'OpenSSL',
  'PHP-3.01',
  'PSF-2.0',
  'PostgreSQL',
  'Python-2.0',
  'Ruby',
  'Sleepycat',
  'Unicode-3.0',
  'Unicode-DFS-2016',
  'Unlicense',
  'UPL-1.0',
  'Vim',
  'W3C',
  'WTFPL',
  'X11',
  'ZPL-2.1',
  'Zlib',
  'bzip2-1.0.6',
  'curl',
  'libtiff',
];

/** SPDX License Exceptions this module recognises after `WITH`. */
export const LICENSE_EXCEPTION_IDS: readonly string[] = [
  'Autoconf-exception-2.0',
  'Autoconf-exception-3.0',
  'Bison-exception-2.2',
  'Classpath-exception-2.0',
  'Font-exception-2.0',
  'GCC-exception-2.0',
  'GCC-exception-3.1',
  'GPL-3.0-linking-exception',
  'LLVM-exception',
  'Libtool-exception',
  'Linux-syscall-note',
  'OCaml-LGPL-linking-exception',
  'OpenJDK-assembly-exception-1.0',
  'Qt-LGPL-exception-1.1',
  'Universal-FOSS-exception-1.0',
  'WxWindows-exception-3.1',
  'openvpn-openssl-exception',
  'u-boot-exception-2.0',
];

const byLowerCase = (ids: readonly string[]) => new Map(ids.map((id) => [id.toLowerCase(), id]));
const licenseIds = byLowerCase(LICENSE_IDS);
const exceptionIds = byLowerCase(LICENSE_EXCEPTION_IDS);

/**
 * Other spellings that name one listed licence unambiguously: Debian's DEP-5 short names (`Expat`,
 * `GPL-2`, `GPL-2+`, `LGPL-2.1+`) and the SPDX ids deprecated in favour of `-only`/`-or-later`
 * (`GPL-2.0`, `GPL-2.0+`). Only the GNU families need a rule; `Expat` is the MIT licence text.
 */
const ALIASES = new Map<string, string>([['expat', 'MIT']]);
const GNU_FAMILY = /^(AGPL|LGPL|GPL|GFDL)-(\d)(?:\.(\d))?(-only|-or-later)?$/i;

export type LicenseNode =
  | { kind: 'license'; id: string; plus: boolean }
  | { kind: 'with'; license: { kind: 'license'; id: string; plus: boolean }; exception: string }
  | { kind: 'and' | 'or'; items: LicenseNode[] };

/** Canonical id for a token (without any trailing `+`), folding a GNU `+` into `-or-later`. */
function resolveLicenseId(token: string, plus: boolean): { id: string; plus: boolean } | null {
  const gnu = GNU_FAMILY.exec(token);
  if (gnu) {
    const [, family = '', major = '', minor = '0', suffix] = gnu;
    const orLater = plus || suffix?.toLowerCase() === '-or-later';
    const id = licenseIds.get(`${family}-${major}.${minor}${orLater ? '-or-later' : '-only'}`.toLowerCase());
    return id ? { id, plus: false } : null;
  }
  const id = licenseIds.get(token.toLowerCase()) ?? ALIASES.get(token.toLowerCase());
  return id ? { id, plus } : null;
}

function tokenize(text: string): string[] | null {
  const tokens: string[] = [];
  for (const raw of text.replace(/([()])/g, ' $1 ').split(/\s+/)) {
    if (raw === '') continue;
    if (raw !== '(' && raw !== ')' && !/^[A-Za-z0-9.-]+\+?$/.test(raw)) return null;
    tokens.push(raw);
  }
  return tokens;
}

/** Parses an SPDX license expression; null when it is not one this module can vouch for. */
export function parseLicenseExpression(text: string): LicenseNode | null {
  const tokens = tokenize(text);
  if (!tokens || tokens.length === 0) return null;
  let pos = 0;
  const peek = () => tokens[pos];

  const primary = (): LicenseNode | null => {
    const token = tokens[pos++];
    if (token === undefined) return null;
    if (token === '(') {
      const inner = orExpr();
      if (inner === null || tokens[pos++] !== ')') return null;
      return inner;
    }
    if (token === ')' || token === 'AND' || token === 'OR' || token === 'WITH') return null;
    const plus = token.endsWith('+');
    const resolved = resolveLicenseId(plus ? token.slice(0, -1) : token, plus);
    if (!resolved) return null;
    const license = { kind: 'license' as const, ...resolved };
    if (peek() !== 'WITH') return license;
    pos++;
    const exception = exceptionIds.get((tokens[pos++] ?? '').toLowerCase());
    return exception ? { kind: 'with', license, exception } : null;
  };

  const chain = (op: 'AND' | 'OR', next: () => LicenseNode | null): LicenseNode | null => {
    const first = next();
    if (first === null) return null;
    const items = [first];
    while (peek() === op) {
      pos++;
      const item = next();
      if (item === null) return null;
      items.push(item);
    }
    return items.length === 1 ? first : combine(op === 'AND' ? 'and' : 'or', items);
  };
  const andExpr = () => chain('AND', primary);
  const orExpr = (): LicenseNode | null => chain('OR', andExpr);

  const tree = orExpr();
  return tree !== null && pos === tokens.length ? tree : null;
}

/** Joins nodes with one operator, flattening nested uses of the same operator and dropping repeats. */
export function combine(kind: 'and' | 'or', nodes: LicenseNode[]): LicenseNode {
  const items: LicenseNode[] = [];
  const seen = new Set<string>();
  for (const node of nodes) {
    for (const item of node.kind === kind ? node.items : [node]) {
      const key = formatLicenseExpression(item);
      if (seen.has(key)) continue;
      seen.add(key);
      items.push(item);
    }
  }
  return items.length === 1 && items[0] ? items[0] : { kind, items };
}

/** Canonical text; a compound inside another compound is always parenthesised, for readability. */
export function formatLicenseExpression(node: LicenseNode): string {
  switch (node.kind) {
    case 'license':
      return node.plus ? `${node.id}+` : node.id;
    case 'with':
      return `${formatLicenseExpression(node.license)} WITH ${node.exception}`;
    default: {
      const op = node.kind === 'and' ? ' AND ' : ' OR ';
      return node.items
        .map((item) =>
          item.kind === 'and' || item.kind === 'or'
            ? `(${formatLicenseExpression(item)})`
            : formatLicenseExpression(item),
        )
        .join(op);
    }
  }
}

/** What a package's declared licence strings amount to. */
export interface DeclaredLicenses {
  /** The strings as given, minus blanks and NOASSERTION/NONE, without repeats. */
  raw: string[];
  /** Each raw string parsed (null where it is not a valid expression). */
  parsed: (LicenseNode | null)[];
  /** All of them ANDed into one valid expression, or null when any is invalid or there are none. */
  expression: LicenseNode | null;
}

/**
 * Analyses an inventory's licence list. Several entries are read as all applying at once (AND): a
 * Debian copyright file lists the licences of different files, and ANDing never claims a choice the
 * packager did not state.
 */
export function analyseLicenses(licenses: readonly string[] | undefined): DeclaredLicenses {
  const raw: string[] = [];
  for (const entry of licenses ?? []) {
    const text = entry.trim();
    if (text === '' || text === 'NOASSERTION' || text === 'NONE' || raw.includes(text)) continue;
    raw.push(text);
  }
  const parsed = raw.map(parseLicenseExpression);
  const valid = parsed.filter((node): node is LicenseNode => node !== null);
  const expression = valid.length > 0 && valid.length === parsed.length ? combine('and', valid) : null;
  return { raw, parsed, expression };
}
