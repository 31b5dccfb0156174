import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import os from 'node:os';
import type { ContainerRuntimeInfo, NodeInfo, Workload } from '@palisade/protocol';
import { ContainerdClient } from './containerd/index.js';

export const AGENT_VERSION = '0.1.0';

/** Parses /etc/os-release (KEY=value lines, optionally quoted). */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = line.match(/^([A-Z0-9_]+)=(.*)$/);
    if (!m) continue;
    let value = (m[2] as string).trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
      value = value.slice(1, -1).replace(/\\(["'$`\\])/g, '$1');
    }
    out[m[1] as string] = value;
  }
  return out;
}

async function readOs(): Promise<NodeInfo['os']> {
  for (const path of ['/etc/os-release', '/usr/lib/os-release']) {
    try {
      const release = parseOsRelease(await readFile(path, 'utf8'));
      return {
        id: release.ID ?? 'linux',
        name: release.PRETTY_NAME ?? release.NAME ?? 'Linux',
        version: release.VERSION_ID ?? '',
      };
    } catch {
      // try the next location
    }
  }
  return { id: 'linux', name: 'Linux', version: '' };
}

/** The wire schema's limits; containerd allows larger labels, so trim rather than lose the workload. */
const MAX_WORKLOADS = 5000;
const MAX_LABEL_KEY = 253;
const MAX_LABEL_VALUE = 1024;

function fitLabels<T extends { labels: Record<string, string> }>(workload: T): T {
  const labels = Object.entries(workload.labels)
    .filter(([key]) => key.length <= MAX_LABEL_KEY)
    .map(([key, value]) => [key, value.slice(0, MAX_LABEL_VALUE)]);
  return { ...workload, labels: Object.fromEntries(labels) };
}

export interface RuntimeScan {
  runtime: ContainerRuntimeInfo | null;
  workloads: Workload[];
}

/**
 * Asks containerd what runs on this node. No socket means no runtime (and no workloads); a socket
 * that does not answer is reported as an error on the node rather than as an empty node.
 */
export async function scanRuntime(socket: string): Promise<RuntimeScan> {
  try {
    await access(socket, constants.F_OK);
  } catch {
    return { runtime: null, workloads: [] };
  }
  const client = new ContainerdClient(socket, { timeoutMs: 5000 });
  try {
    const { version } = await client.version();
    const workloads = (await client.listWorkloads()).slice(0, MAX_WORKLOADS).map(fitLabels);
    return { runtime: { name: 'containerd', socket, version }, workloads };
  } catch (err) {
    return {
      runtime: { name: 'containerd', socket, error: (err as Error).message.slice(0, 1000) },
      workloads: [],
    };
  } finally {
    client.close();
  }
}

export async function collectNodeInfo(
  runtime: ContainerRuntimeInfo | null,
  hostnameOverride?: string,
): Promise<NodeInfo> {
  return {
    hostname: hostnameOverride ?? os.hostname(),
    kernel: os.release(),
    arch: os.arch(),
    os: await readOs(),
    containerRuntime: runtime,
    agentVersion: AGENT_VERSION,
    cpus: os.availableParallelism(),
    memoryBytes: os.totalmem(),
  };
}
