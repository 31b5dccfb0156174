/**
 * A minimal containerd client: gRPC over containerd's unix socket (no `ctr`, no Go), enough to
 * tell which workloads a node runs.
 *
 * containerd scopes most services by namespace; the namespace travels in the gRPC metadata header
 * `containerd-namespace` (Kubernetes' CRI plugin uses `k8s.io`, `ctr`/nerdctl default to `default`).
 */
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { type DiscoveredWorkload, type RawContainer, type RawProcess, toWorkload } from './mapping.js';
import { CONTAINERD_PROTO_FILES } from './proto/containerd-api.js';

export type { DiscoveredWorkload, WorkloadState } from './mapping.js';
export { taskState, timestampToIso, toWorkload } from './mapping.js';

export const DEFAULT_CONTAINERD_SOCKET = '/run/containerd/containerd.sock';
export const DEFAULT_CONTAINERD_TIMEOUT_MS = 5_000;
/** The gRPC metadata key containerd reads the namespace from. */
export const CONTAINERD_NAMESPACE_HEADER = 'containerd-namespace';

export interface ContainerdInfo {
  version: string;
  revision: string;
}

export interface ContainerdClientOptions {
  /** Deadline for each call, and so the upper bound for a failing call. Default 5 s. */
  timeoutMs?: number;
}

/** What a unary call needs: the method's path and its message codecs (protobufjs directly). */
interface MethodDef {
  path: string;
  requestSerialize: (value: object) => Buffer;
  responseDeserialize: (bytes: Buffer) => object;
}

const DECODE_OPTIONS: protobuf.IConversionOptions = {
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: false,
};

const METHODS = {
  version: 'containerd.services.version.v1.Version/Version',
  namespaces: 'containerd.services.namespaces.v1.Namespaces/List',
  containers: 'containerd.services.containers.v1.Containers/List',
  tasks: 'containerd.services.tasks.v1.Tasks/List',
} as const;
type MethodKey = keyof typeof METHODS;

let methodDefs: Record<MethodKey, MethodDef> | undefined;

function loadMethods(): Record<MethodKey, MethodDef> {
  if (methodDefs) return methodDefs;
  const root = new protobuf.Root();
  for (const [file, source] of Object.entries(CONTAINERD_PROTO_FILES)) {
    try {
      protobuf.parse(source, root, { keepCase: true });
    } catch (err) {
      throw new Error(`embedded containerd proto ${file} does not parse: ${(err as Error).message}`);
    }
  }
  root.resolveAll();
  const pick = (fullName: string): MethodDef => {
    const slash = fullName.lastIndexOf('/');
    const service = root.lookup(fullName.slice(0, slash));
    const method =
      service instanceof protobuf.Service ? service.methods[fullName.slice(slash + 1)] : undefined;
    const requestType = method?.resolvedRequestType;
    const responseType = method?.resolvedResponseType;
    if (!method || !requestType || !responseType)
      throw new Error(`embedded containerd proto lacks ${fullName}`);
    return {
      path: `/${fullName}`,
      requestSerialize: (value) => Buffer.from(requestType.encode(requestType.fromObject(value)).finish()),
      responseDeserialize: (bytes) => responseType.toObject(responseType.decode(bytes), DECODE_OPTIONS),
    };
  };
  methodDefs = {
    version: pick(METHODS.version),
    namespaces: pick(METHODS.namespaces),
    containers: pick(METHODS.containers),
    tasks: pick(METHODS.tasks),
  };
  return methodDefs;
}

export class ContainerdClient {
  readonly socketPath: string;
  readonly timeoutMs: number;
  #client: grpc.Client | undefined;
  #closed = false;

  constructor(socketPath: string, options: ContainerdClientOptions = {}) {
    this.socketPath = resolvePath(socketPath);
    const timeoutMs = options.timeoutMs ?? DEFAULT_CONTAINERD_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`);
    }
    this.timeoutMs = timeoutMs;
  }

  async version(): Promise<ContainerdInfo> {
    const res = (await this.#call('version', {})) as { version?: string; revision?: string };
    return { version: res.version ?? '', revision: res.revision ?? '' };
  }

  async namespaces(): Promise<string[]> {
    const res = (await this.#call('namespaces', {})) as { namespaces?: { name?: string }[] };
    return (res.namespaces ?? [])
      .map((n) => n.name ?? '')
      .filter((n) => n.length > 0)
      .sort();
  }

  /** All containers in all namespaces, with task state/pid joined in. Sorted by namespace, id. */
  async listWorkloads(): Promise<DiscoveredWorkload[]> {
    const namespaces = await this.namespaces();
    const perNamespace = await Promise.all(namespaces.map((ns) => this.#listNamespace(ns)));
    return perNamespace.flat();
  }

  close(): void {
    this.#closed = true;
    this.#client?.close();
    this.#client = undefined;
  }

  async #listNamespace(namespace: string): Promise<DiscoveredWorkload[]> {
    // Containers first, then tasks: a task started in between is then still joined to its
    // container, and a container created in between is simply not listed this round.
    const containers =
      (
        (await this.#call('containers', { filters: [] }, namespace)) as {
          containers?: RawContainer[];
        }
      ).containers ?? [];
    const tasks =
      ((await this.#call('tasks', { filter: '' }, namespace)) as { tasks?: RawProcess[] }).tasks ?? [];
    const taskById = new Map<string, RawProcess>();
    for (const task of tasks) {
      // Tasks.List fills `id` (= container id) for init processes; older/other paths may use
      // container_id.
      const id = task.id || task.container_id;
      if (id) taskById.set(id, task);
    }
    return containers
      .filter((c) => c.id)
      .map((c) => toWorkload(namespace, c, taskById.get(c.id ?? '')))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  #getClient(): grpc.Client {
    if (this.#closed) throw new Error(`containerd client for ${this.socketPath} is closed`);
    if (!this.#client) {
      this.#client = new grpc.Client(`unix://${this.socketPath}`, grpc.credentials.createInsecure(), {
        // containerd answers on "localhost", as its Go client uses.
        'grpc.default_authority': 'localhost',
        // Containers/List carries every container's full OCI spec (we skip it on decode, but it
        // still travels): allow big nodes' answers.
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
        'grpc.enable_retries': 0,
      });
    }
    return this.#client;
  }

  /** Turns a missing/wrong socket into a clear error before gRPC gets to it. */
  async #checkSocket(): Promise<void> {
    let st: Stats;
    try {
      st = await stat(this.socketPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new Error(`containerd socket ${this.socketPath} does not exist (is containerd running?)`, {
          cause: err,
        });
      }
      if (code === 'EACCES' || code === 'EPERM') {
        throw new Error(`permission denied reaching containerd socket ${this.socketPath} (run as root?)`, {
          cause: err,
        });
      }
      throw new Error(`cannot stat containerd socket ${this.socketPath}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!st.isSocket()) throw new Error(`${this.socketPath} is not a unix socket (expected containerd's)`);
  }

  async #call(key: MethodKey, request: object, namespace?: string): Promise<object> {
    await this.#checkSocket();
    const method = loadMethods()[key];
    const client = this.#getClient();
    const metadata = new grpc.Metadata();
    if (namespace !== undefined) metadata.set(CONTAINERD_NAMESPACE_HEADER, namespace);
    const what = `${METHODS[key]}${namespace !== undefined ? ` (namespace ${namespace})` : ''}`;

    return new Promise<object>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | null, value?: object) => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        if (err) reject(err);
        else resolve(value ?? {});
      };
      // Belt and braces: the gRPC deadline should always fire, but never hang if it does not.
      const guard = setTimeout(() => {
        call.cancel();
        finish(
          new Error(`containerd at ${this.socketPath} did not answer ${what} within ${this.timeoutMs} ms`),
        );
      }, this.timeoutMs + 1_000);
      guard.unref();
      const call = client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        { deadline: Date.now() + this.timeoutMs },
        (err, value) => finish(err ? this.#describe(err, what) : null, value),
      );
    });
  }

  #describe(err: grpc.ServiceError, what: string): Error {
    const at = `containerd at ${this.socketPath}`;
    // grpc-js appends an (often empty) "Resolution note:" to connection errors.
    const details = (err.details || err.message).replace(/\s*Resolution note:\s*$/, '');
    let message: string;
    switch (err.code) {
      case grpc.status.DEADLINE_EXCEEDED:
        message = `${at} did not answer ${what} within ${this.timeoutMs} ms`;
        break;
      case grpc.status.UNAVAILABLE:
        if (/EACCES|EPERM|permission denied/i.test(details)) {
          message = `permission denied connecting to ${at} (run as root?): ${details}`;
        } else if (/ECONNREFUSED/.test(details)) {
          message = `${at} refused the connection (stale socket, containerd not running?): ${details}`;
        } else {
          message = `cannot reach ${at}: ${details}`;
        }
        break;
      default:
        message = `${at}: ${what} failed with ${grpc.status[err.code] ?? err.code}: ${details}`;
    }
    return Object.assign(new Error(message, { cause: err }), { code: err.code });
  }
}
