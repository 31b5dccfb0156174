import type { Advisory, FeedParseResult } from '../model.js';
import { debianReleaseNumber } from '../releases.js';
import { FeedCollector, isCve } from './common.js';

/**
 * Debian security tracker advisory lists (`data/DSA/list`, `data/DLA/list`):
 *
 *   [29 Mar 2023] DSA-5380-1 xorg-server - security update
 *   	{CVE-2023-1393}
 *   	[bullseye] - xorg-server 2:1.20.11-1+deb11u6
 *   	[lenny] - vlc <not-affected> (Vulnerable code not present)
 *   	NOTE: fixed in testing at time of DSA
 *
 * Each `[release] - srcpkg X` line: the source package in that release is fixed in X, so every
 * version < X on that release is affected by every id in `{…}` (the DSA/DLA id itself when the
 * braces are missing, e.g. regression updates). Markers instead of a version:
 * `<not-affected>` → not affected (record kept, never matches); `<unfixed>`, `<end-of-life>`,
 * `<postponed>`, `<ignored>` → every version affected, no fix; `<removed>` → ignored.
 * A trailing `(…)` after the version (urgency, bug number) becomes the record's note.
 * NOTE lines are ignored. Entries without any release line (announcements) are counted as ignored.
 */

const HEADER = /^\[(\d{1,2}) ([A-Za-z]{3}) (\d{4})\]\s+(D[SL]A-\d+(?:-\d+)?)\s*(.*)$/;
const IDS = /^\s+\{([^}]*)\}\s*$/;
const RELEASE = /^\s+\[([a-z-]+)\]\s+-\s+(\S+)\s+(.+?)\s*$/;
const MONTHS: Record<string, string> = {
  jan: '01',
  feb: '02',
  mar: '03',
  apr: '04',
  may: '05',
  jun: '06',
  jul: '07',
  aug: '08',
  sep: '09',
  oct: '10',
  nov: '11',
  dec: '12',
};
const DEBIAN_VERSION = /^(?:\d+:)?[0-9][A-Za-z0-9.+~-]*(?::[A-Za-z0-9.+~-]+)*$/;

interface PendingEntry {
  id: string;
  line: number;
  published?: string;
  summary?: string;
  ids: string[];
  fixes: { release: string; codename: string; pkg: string; rest: string; line: number }[];
  bad: boolean;
}

export function parseDebianList(
  text: string,
  source: 'debian-dsa' | 'debian-dla',
  file: string,
): FeedParseResult {
  const out = new FeedCollector();
  let entry: PendingEntry | undefined;

  const flush = (): void => {
    if (!entry) return;
    const e = entry;
    entry = undefined;
    out.units++;
    if (e.bad) return; // already counted as skipped
    if (e.fixes.length === 0) {
      out.ignored++;
      return;
    }
    const ids = e.ids.length > 0 ? e.ids : [e.id];
    for (const fix of e.fixes) {
      const base = recordFor(fix.rest);
      if (base === 'skip') {
        out.skip(`${file}:${fix.line} ${e.id}`, `unrecognised status ${JSON.stringify(fix.rest)}`);
        continue;
      }
      if (base === 'ignore') continue;
      for (const id of ids) {
        const advisory: Advisory = {
          id,
          aliases: id === e.id ? [] : [e.id],
          ...base,
          severity: 'unknown',
          source,
          ref: e.id,
        };
        if (e.summary) advisory.summary = e.summary;
        if (e.published) advisory.published = e.published;
        out.records.push({ ecosystem: 'Debian', release: fix.release, package: fix.pkg, advisory });
      }
    }
  };

  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, '');
    if (line.trim() === '') continue;
    const header = HEADER.exec(line);
    if (header) {
      flush();
      const [, day, mon, year, id, rest] = header as unknown as string[];
      const month = MONTHS[(mon as string).toLowerCase()];
      entry = { id: id as string, line: i + 1, ids: [], fixes: [], bad: false };
      if (month) entry.published = `${year}-${month}-${(day as string).padStart(2, '0')}`;
      const summary = (rest as string).replace(/\s+/g, ' ').trim();
      if (summary) entry.summary = summary;
      continue;
    }
    if (!/^\s/.test(line)) {
      // A top-level line that is not a header: the entry it would belong to is unknowable.
      flush();
      out.units++;
      out.skip(`${file}:${i + 1}`, `unparseable line ${JSON.stringify(line.slice(0, 80))}`);
      continue;
    }
    if (!entry) {
      out.units++;
      out.skip(`${file}:${i + 1}`, 'continuation line before any header');
      continue;
    }
    const trimmed = line.trim();
    if (trimmed.startsWith('NOTE:')) continue;
    const ids = IDS.exec(line);
    if (ids) {
      for (const token of (ids[1] as string).split(/\s+/)) {
        if (token === '') continue;
        if (isCve(token) || /^[A-Z]+-[\w-]+$/.test(token)) entry.ids.push(token);
        else {
          out.skip(`${file}:${i + 1} ${entry.id}`, `bad id ${JSON.stringify(token)}`);
          entry.bad = true;
        }
      }
      continue;
    }
    const rel = RELEASE.exec(line);
    if (rel) {
      const [, codename, pkg, rest] = rel as unknown as string[];
      const release = debianReleaseNumber(codename as string);
      if (!release) {
        out.skip(`${file}:${i + 1} ${entry.id}`, `unknown release ${codename}`);
        continue;
      }
      entry.fixes.push({
        release,
        codename: codename as string,
        pkg: pkg as string,
        rest: rest as string,
        line: i + 1,
      });
      continue;
    }
    out.skip(`${file}:${i + 1} ${entry.id}`, `unparseable line ${JSON.stringify(trimmed.slice(0, 80))}`);
  }
  flush();
  return out.result();
}

type RecordBase = Pick<Advisory, 'ranges' | 'unfixed'> &
  Partial<Pick<Advisory, 'fixedVersion' | 'notAffected' | 'note'>>;

function recordFor(rest: string): RecordBase | 'skip' | 'ignore' {
  const marker = /^<([a-z-]+)>\s*(.*)$/.exec(rest);
  if (marker) {
    const [, kind, tail] = marker as unknown as string[];
    const note = (tail as string).replace(/^\((.*)\)$/, '$1').trim();
    const withNote = <T extends RecordBase>(r: T): T => (note ? { ...r, note } : r);
    switch (kind) {
      case 'not-affected':
        return withNote({ ranges: [], unfixed: false, notAffected: 'distro-not-affected' });
      case 'unfixed':
      case 'postponed':
      case 'ignored':
        return withNote({ ranges: [{}], unfixed: true });
      case 'end-of-life':
        return { ranges: [{}], unfixed: true, note: note ? `end-of-life: ${note}` : 'end-of-life' };
      case 'removed':
        return 'ignore';
      default:
        return 'skip';
    }
  }
  const [version, ...tail] = rest.split(/\s+/);
  if (!version || !DEBIAN_VERSION.test(version)) return 'skip';
  const note = tail
    .join(' ')
    .replace(/^\((.*)\)$/, '$1')
    .trim();
  return { ranges: [{ fixed: version }], fixedVersion: version, unfixed: false, ...(note ? { note } : {}) };
}
