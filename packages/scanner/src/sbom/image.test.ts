import { describe, expect, it } from 'vitest';
import { imagePurl, parseReference } from './image.js';

const digest = 'sha256:9a5f7e5fd5a1d9a0a3c2c3b0f3f0f4f5e6d7c8b9a0b1c2d3e4f5a6b7c8d9e0f1';

describe('parseReference', () => {
  it.each([
    ['debian', { registry: 'docker.io', repository: 'library/debian' }],
    ['debian:12', { registry: 'docker.io', repository: 'library/debian', tag: '12' }],
    ['bitnami/redis:7.2', { registry: 'docker.io', repository: 'bitnami/redis', tag: '7.2' }],
    ['index.docker.io/library/nginx', { registry: 'docker.io', repository: 'library/nginx' }],
    ['ghcr.io/acme/api:1.4', { registry: 'ghcr.io', repository: 'acme/api', tag: '1.4' }],
    ['localhost:5000/app', { registry: 'localhost:5000', repository: 'app' }],
    ['localhost/app:dev', { registry: 'localhost', repository: 'app', tag: 'dev' }],
    [
      `registry.example.com:8443/team/svc:v2@${digest}`,
      { registry: 'registry.example.com:8443', repository: 'team/svc', tag: 'v2', digest },
    ],
    [`alpine@${digest}`, { registry: 'docker.io', repository: 'library/alpine', digest }],
  ])('%s', (reference, expected) => {
    expect(parseReference(reference)).toEqual(expected);
  });
});

describe('imagePurl', () => {
  it('follows the purl oci type: lower-case last segment, digest as version, sorted qualifiers', () => {
    expect(imagePurl({ reference: 'debian:12', digest, architecture: 'amd64' })).toBe(
      `pkg:oci/debian@sha256%3A${digest.slice(7)}?arch=amd64&repository_url=docker.io/library/debian&tag=12`,
    );
    expect(imagePurl({ reference: 'localhost:5000/Team/MyApp', digest })).toBe(
      `pkg:oci/myapp@sha256%3A${digest.slice(7)}?repository_url=localhost:5000/Team/MyApp`,
    );
  });

  it('omits the version when the digest is unknown', () => {
    expect(imagePurl({ reference: 'alpine:3.19', digest: '' })).toBe(
      'pkg:oci/alpine?repository_url=docker.io/library/alpine&tag=3.19',
    );
  });
});
