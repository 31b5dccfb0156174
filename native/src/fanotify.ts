/**
 * The fanotify permission handler (fallback back-end for process and file rules): a true EPERM for
 * execs on a container's root filesystem and for write-opens of protected files, answered by the
 * addon's own thread so the JS event loop is never in the path of a decision. See README "fanotify".
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { EnforcementEvent, PolicyGeneration } from '@palisade/policy';

export interface FanotifyStatus {
  /** Permission events answered, and how. */
  decisions: number;
  allowed: number;
  denied: number;
  alerts: number;
  /** Events delivered to JS, and dropped because the JS queue was full (never silent). */
  events: number;
  drops: number;
  /** Read/answer failures. */
  errors: number;
  /** Permission events allowed because deciding failed (the handler fails open; see README). */
  failOpen: number;
  /** Total time spent deciding (ns), for the mean cost of a decision. */
  decideNs: number;
  /** The generation enforced (0 before the first). */
  generation: number;
  /** Marked objects (container root mounts and protected inodes). */
  marks: number;
  /** Allowed binaries whose execs the kernel does not report to us at all (ignore marks). */
  ignoreMarks: number;
  /** Marks that could not be removed because their object is gone or unreachable (harmless; cleared by close). */
  staleMarks: number;
  closed: boolean;
}

export interface FanotifyEnforcer {
  /** Applies a whole generation or throws (clear message) and keeps the previous one enforced. */
  setGeneration(generation: PolicyGeneration): void;
  /** Subscribes to event batches; returns the unsubscribe function. */
  onEvents(callback: (events: EnforcementEvent[]) => void): () => void;
  status(): FanotifyStatus;
  /** Removes every mark, stops the handler thread. Idempotent. */
  close(): void;
}

export interface FanotifyOptions {
  /** The compiled addon; default native/addon/build/Release/palisade_fanotify.node. */
  addonPath?: string;
  /** Event batches queued towards JS before further ones are dropped (and counted). Default 1024. */
  maxQueuedBatches?: number;
}

interface NativeHandler {
  setGeneration(generation: PolicyGeneration): void;
  status(): FanotifyStatus;
  close(): void;
}

interface NativeAddon {
  FanotifyHandler: new (
    onEvents: (events: EnforcementEvent[]) => void,
    maxQueuedBatches?: number,
  ) => NativeHandler;
}

// src/ and dist/ both sit one level under native/.
export const defaultFanotifyAddonPath = fileURLToPath(
  new URL('../addon/build/Release/palisade_fanotify.node', import.meta.url),
);

export function loadFanotifyAddon(addonPath = defaultFanotifyAddonPath): NativeAddon {
  if (!existsSync(addonPath)) {
    throw new Error(`fanotify addon not built: ${addonPath} is missing (build native/addon first)`);
  }
  return createRequire(import.meta.url)(addonPath) as NativeAddon;
}

/** Opens a handler (needs CAP_SYS_ADMIN). Nothing is enforced until the first setGeneration. */
export function openFanotifyEnforcer(opts: FanotifyOptions = {}): FanotifyEnforcer {
  const addon = loadFanotifyAddon(opts.addonPath);
  const listeners = new Set<(events: EnforcementEvent[]) => void>();
  const native = new addon.FanotifyHandler((events) => {
    for (const listener of listeners) {
      try {
        listener(events);
      } catch (err) {
        // One failing subscriber must not starve the others; surface it without throwing into the addon.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }, opts.maxQueuedBatches);
  return {
    setGeneration: (generation) => native.setGeneration(generation),
    onEvents(callback) {
      listeners.add(callback);
      return () => listeners.delete(callback);
    },
    status: () => native.status(),
    close: () => native.close(),
  };
}
