import { readFileSync } from 'node:fs';
import { sharedPath } from '@palisade/testdata';
import { describe, expect, it } from 'vitest';
import {
  analyseLicenses,
  formatLicenseExpression,
  LICENSE_EXCEPTION_IDS,
  LICENSE_IDS,
  parseLicenseExpression,
} from './license.js';

const canonical = (text: string) => {
  const node = parseLicenseExpression(text);
  return node && formatLicenseExpression(node);
};

describe('the recognised ids', () => {
  // The CycloneDX copy of the SPDX License List (ids and exceptions in one enum).
  const listed = new Set(
    (
      JSON.parse(readFileSync(sharedPath('schemas', 'cyclonedx', 'spdx.schema.json'), 'utf8')) as {
        enum: string[];
      }
    ).enum,
  );

  it('are all on the official SPDX License List, spelt as there', () => {
    expect(LICENSE_IDS.filter((id) => !listed.has(id))).toEqual([]);
    expect(LICENSE_EXCEPTION_IDS.filter((id) => !listed.has(id))).toEqual([]);
  });

  it('are unique', () => {
    expect(new Set(LICENSE_IDS.map((id) => id.toLowerCase())).size).toBe(LICENSE_IDS.length);
  });
});

describe('parseLicenseExpression', () => {
  it.each([
    ['MIT', 'MIT'],
    ['mit', 'MIT'],
    ['BSD-3-clause', 'BSD-3-Clause'],
    ['Apache-2.0 AND MIT', 'Apache-2.0 AND MIT'],
    ['(MIT OR Apache-2.0)', 'MIT OR Apache-2.0'],
    ['MIT OR Apache-2.0 AND BSD-2-Clause', 'MIT OR (Apache-2.0 AND BSD-2-Clause)'],
    ['(MIT OR Apache-2.0) AND BSD-2-Clause', '(MIT OR Apache-2.0) AND BSD-2-Clause'],
    ['((MIT))', 'MIT'],
    ['MIT AND MIT', 'MIT'],
    ['GPL-2.0-only WITH Classpath-exception-2.0', 'GPL-2.0-only WITH Classpath-exception-2.0'],
    ['Apache-2.0 WITH LLVM-exception OR MIT', 'Apache-2.0 WITH LLVM-exception OR MIT'],
    ['MPL-1.1+', 'MPL-1.1+'],
    // Deprecated SPDX ids and Debian DEP-5 short names for the GNU licences.
    ['GPL-2.0', 'GPL-2.0-only'],
    ['GPL-2.0+', 'GPL-2.0-or-later'],
    ['GPL-2', 'GPL-2.0-only'],
    ['GPL-3+', 'GPL-3.0-or-later'],
    ['LGPL-2.1+', 'LGPL-2.1-or-later'],
    ['LGPL-2', 'LGPL-2.0-only'],
    ['AGPL-3.0', 'AGPL-3.0-only'],
    ['Expat', 'MIT'],
  ])('%s → %s', (text, expected) => {
    expect(canonical(text)).toBe(expected);
  });

  it.each([
    '',
    '   ',
    'public-domain',
    'Apache License, Version 2.0',
    'SEE LICENSE IN LICENSE.md',
    'MIT and Apache-2.0', // operators are case-sensitive
    'MIT OR',
    'AND MIT',
    '(MIT',
    'MIT)',
    'MIT Apache-2.0',
    'GPL-2.1',
    'MIT WITH Classpath-exception-2.0 WITH LLVM-exception',
    'GPL-2.0-only WITH Not-an-exception',
    'LicenseRef-acme', // would need hasExtractedLicensingInfos
    'DocumentRef-x:LicenseRef-y',
    'MIT/X11',
    'GPL-2+ with OpenSSL exception',
  ])('refuses %j', (text) => {
    expect(parseLicenseExpression(text)).toBeNull();
  });
});

describe('analyseLicenses', () => {
  it('ANDs several valid entries, parenthesising compounds', () => {
    const result = analyseLicenses(['MIT', 'Apache-2.0 OR BSD-3-Clause', 'MIT']);
    expect(result.raw).toEqual(['MIT', 'Apache-2.0 OR BSD-3-Clause']);
    expect(result.expression && formatLicenseExpression(result.expression)).toBe(
      'MIT AND (Apache-2.0 OR BSD-3-Clause)',
    );
  });

  it('gives no expression when any entry is invalid, or when there are none', () => {
    expect(analyseLicenses(['MIT', 'public-domain']).expression).toBeNull();
    expect(analyseLicenses(['MIT', 'public-domain']).parsed.map((n) => n?.kind ?? null)).toEqual([
      'license',
      null,
    ]);
    expect(analyseLicenses([]).expression).toBeNull();
    expect(analyseLicenses(undefined).raw).toEqual([]);
    expect(analyseLicenses([' ', 'NOASSERTION', 'NONE']).raw).toEqual([]);
  });
});
