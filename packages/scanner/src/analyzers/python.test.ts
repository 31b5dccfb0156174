import { afterAll, describe, expect, it } from 'vitest';
import { analyzeRootfsWithWarnings } from './index.js';
import { isPythonMetadata, normalizePypiName, parsePythonMetadata } from './python.js';
import { cleanupTempDirs, makeRoot } from './testkit.js';

afterAll(cleanupTempDirs);

const METADATA_24 = `Metadata-Version: 2.4
Name: Zope.Interface
Version: 6.1
Summary: Interfaces for Python
License-Expression: ZPL-2.1
Classifier: License :: OSI Approved :: Zope Public License

Long description: Name: not-this
`;

const METADATA_21 = `Metadata-Version: 2.1
Name: requests
Version: 2.31.0
License: Apache 2.0
Classifier: License :: OSI Approved :: Apache Software License
`;

const LONG_LICENSE = `Metadata-Version: 2.1
Name: typing_extensions
Version: 4.8.0
License: PSF License
        Copyright (c) 2001 Python Software Foundation
        more text
Classifier: License :: OSI Approved :: Python Software Foundation License
`;

describe('python metadata', () => {
  it('PEP 503 names', () => {
    expect(normalizePypiName('Zope.Interface')).toBe('zope-interface');
    expect(normalizePypiName('typing_extensions')).toBe('typing-extensions');
    expect(normalizePypiName('A__b-.C')).toBe('a-b-c');
  });

  it('licence preference: expression, short License, classifiers', () => {
    expect(parsePythonMetadata(METADATA_24)).toEqual({
      name: 'Zope.Interface',
      version: '6.1',
      license: 'ZPL-2.1',
    });
    expect(parsePythonMetadata(METADATA_21)).toEqual({
      name: 'requests',
      version: '2.31.0',
      license: 'Apache 2.0',
    });
    expect(parsePythonMetadata(LONG_LICENSE)?.license).toBe('Python Software Foundation License');
    expect(parsePythonMetadata('Name: x\n')).toBeNull();
  });

  it('only site-packages / dist-packages metadata files', () => {
    expect(isPythonMetadata('/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA')).toBe(true);
    expect(isPythonMetadata('/usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO')).toBe(true);
    expect(isPythonMetadata('/usr/lib/python3/dist-packages/crcmod-1.7.egg-info')).toBe(true);
    expect(isPythonMetadata('/src/project/foo.egg-info/PKG-INFO')).toBe(false);
    expect(isPythonMetadata('/usr/lib/python3/dist-packages/x.dist-info/RECORD')).toBe(false);
  });

  it('analyzeRootfs: venvs, system and local site-packages', async () => {
    const root = makeRoot({
      'usr/lib/python3/dist-packages/zope.interface-6.1.dist-info/METADATA': METADATA_24,
      'usr/local/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA': METADATA_21,
      'opt/venv/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA': METADATA_21,
      'usr/lib/python3/dist-packages/typing_extensions-4.8.0.egg-info': LONG_LICENSE,
      'usr/lib/python3/dist-packages/broken-1.0.dist-info/METADATA': 'Metadata-Version: 2.1\n',
    });
    const { inventory, warnings } = await analyzeRootfsWithWarnings(root);
    expect(warnings).toEqual([
      '/usr/lib/python3/dist-packages/broken-1.0.dist-info/METADATA: no Name/Version in metadata',
    ]);
    expect(inventory.packages).toHaveLength(3);
    expect(inventory.packages.find((p) => p.name === 'requests')).toEqual({
      name: 'requests',
      version: '2.31.0',
      ecosystem: 'PyPI',
      purl: 'pkg:pypi/requests@2.31.0',
      licenses: ['Apache 2.0'],
      locations: [
        '/opt/venv/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA',
        '/usr/local/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA',
      ],
    });
    expect(inventory.packages.find((p) => p.name === 'zope-interface')?.purl).toBe(
      'pkg:pypi/zope-interface@6.1',
    );
  });
});
