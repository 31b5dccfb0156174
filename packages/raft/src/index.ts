// @palisade/raft: a Raft consensus core in the etcd-io/raft shape — a deterministic state machine
// driven by tick() and step(); the caller does all disk and network I/O through Ready/advance().
export * from './confchange/confchange.js';
export * from './errors.js';
export * from './log.js';
export * from './logger.js';
export * from './logUnstable.js';
export * from './quorum/majority.js';
export * from './raft.js';
export * from './rawNode.js';
export * from './readOnly.js';
export * from './storage.js';
export * from './tracker/inflights.js';
export * from './tracker/progress.js';
export * from './tracker/tracker.js';
export * from './types.js';
export * from './validate.js';
