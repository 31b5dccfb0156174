import { parse as parseYaml } from 'yaml';
import type { FeedParseResult } from '../model.js';
import { alpineRelease } from '../releases.js';
import { errorMessage, FeedCollector, isCve } from './common.js';

/**
 * Alpine secdb (alpinelinux/alpine-secdb, `v3.X/{main,community}.yaml`):
 *
 *   distroversion: v3.11
 *   reponame: main
 *   packages:
 *     - pkg:
 *         name: openssl            # the aports origin (source) package
 *         secfixes:
 *           1.1.1d-r2:             # fixed in this apk version (within this release)
 *             - CVE-2019-1551
 *
 * Semantics: in release 3.X, origin package P with version < V is affected by the listed ids.
 * A fixed version of "0" is the aports convention for "this release's package was never affected"
 * (the CVE is recorded so trackers stop flagging it); such entries become `notAffected` records.
 *
 * Item strings are not always a bare CVE: "CVE-2017-8904 XSA-214", "XSA-207",
 * "CVE-2019-15167 (VRRP)", "CVE-2017-17434-1", "CVE-????-????? XSA-295", "wnpa-sec-2017-18", and the
 * typos "CVE_2019-2426" / "CVE 2018-16859" (read as CVE-2019-2426 / CVE-2018-16859). The first CVE-shaped
 * token is the id (a "-N" part suffix is cut off), other ids become aliases, parenthesised notes
 * and tokens that are not ids are dropped; an item with no usable id is skipped.
 */

const SOURCE = 'alpine-secdb';
const ID_TOKEN = /^[A-Z][A-Z0-9]*-[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Vendor ids written in lower case, e.g. Wireshark's "wnpa-sec-2017-18". */
const VENDOR_ID = /^[a-z]+(?:-[a-z]+)*-\d{4}-\d+$/;
const CVE_PREFIX = /^CVE-\d{4}-\d{4,}/;

export interface SecfixId {
  id: string;
  aliases: string[];
}

/** Extracts the id and aliases from a secfixes item; undefined when it holds no usable id. */
export function parseSecfixItem(item: string): SecfixId | undefined {
  const tokens = item
    .replace(/\([^)]*\)/g, ' ')
    // Typos seen in the feed: "CVE_2019-2426", "CVE 2018-16859".
    .replace(/\bCVE[_ ](\d{4}-\d{4,})\b/g, 'CVE-$1')
    .split(/[\s,]+/)
    .filter((t) => t.length > 0);
  const ids: string[] = [];
  for (const token of tokens) {
    const cve = CVE_PREFIX.exec(token);
    if (cve) ids.push(cve[0]);
    else if ((ID_TOKEN.test(token) || VENDOR_ID.test(token)) && !token.startsWith('CVE-')) ids.push(token);
  }
  const unique = [...new Set(ids)];
  if (unique.length === 0) return undefined;
  const primary = unique.find(isCve) ?? (unique[0] as string);
  return { id: primary, aliases: unique.filter((x) => x !== primary) };
}

/** Parses one secdb YAML file. `fallbackRelease` ('v3.11') is used when the file lacks `distroversion`. */
export function parseAlpineSecdb(text: string, file: string, fallbackRelease?: string): FeedParseResult {
  const out = new FeedCollector();
  let doc: unknown;
  try {
    // failsafe: every scalar stays a string ("1.10-r0" and "2.0" must not become numbers).
    doc = parseYaml(text, { schema: 'failsafe', uniqueKeys: false });
  } catch (err) {
    out.units++;
    out.skip(file, `YAML: ${errorMessage(err)}`);
    return out.result();
  }
  if (!doc || typeof doc !== 'object') {
    out.units++;
    out.skip(file, 'not a mapping');
    return out.result();
  }
  const top = doc as Record<string, unknown>;
  const release = alpineRelease(
    typeof top.distroversion === 'string' ? top.distroversion : (fallbackRelease ?? ''),
  );
  if (!release) {
    out.units++;
    out.skip(file, 'no distroversion');
    return out.result();
  }
  const repo = typeof top.reponame === 'string' ? top.reponame : '';
  const packages = top.packages;
  if (packages === undefined || packages === '' || packages === null) return out.result();
  if (!Array.isArray(packages)) {
    out.units++;
    out.skip(file, 'packages is not a list');
    return out.result();
  }
  for (const [i, entry] of packages.entries()) {
    out.units++;
    const where = `${file}#${i}`;
    const pkg = (entry as { pkg?: unknown } | null)?.pkg as Record<string, unknown> | undefined;
    if (!pkg || typeof pkg !== 'object' || typeof pkg.name !== 'string' || pkg.name === '') {
      out.skip(where, 'entry without pkg.name');
      continue;
    }
    const name = pkg.name;
    const secfixes = pkg.secfixes;
    if (!secfixes || typeof secfixes !== 'object' || Array.isArray(secfixes)) {
      out.skip(`${where} ${name}`, 'secfixes is not a mapping');
      continue;
    }
    for (const [fixed, items] of Object.entries(secfixes as Record<string, unknown>)) {
      const version = fixed.trim();
      if (!Array.isArray(items)) {
        out.skip(`${where} ${name} ${version}`, `secfixes value is ${items === '' ? 'empty' : typeof items}`);
        continue;
      }
      if (!/^[0-9][0-9A-Za-z._+~-]*$/.test(version)) {
        out.skip(`${where} ${name}`, `bad fixed version ${JSON.stringify(version)}`);
        continue;
      }
      for (const item of items) {
        if (typeof item !== 'string') {
          out.skip(`${where} ${name} ${version}`, 'item is not a string');
          continue;
        }
        const ids = parseSecfixItem(item);
        if (!ids) {
          out.skip(`${where} ${name} ${version}`, `no id in ${JSON.stringify(item)}`);
          continue;
        }
        const notAffected = version === '0';
        out.records.push({
          ecosystem: 'Alpine',
          release,
          package: name,
          advisory: {
            id: ids.id,
            aliases: ids.aliases,
            ranges: notAffected ? [] : [{ fixed: version }],
            ...(notAffected ? { notAffected: 'alpine-secfix-0' as const } : { fixedVersion: version }),
            unfixed: false,
            severity: 'unknown',
            source: SOURCE,
            ref: `v${release}/${repo || 'unknown'}`,
          },
        });
      }
    }
  }
  return out.result();
}
