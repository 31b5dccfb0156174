export { Hub, type HubOptions } from './hub.js';
export { ObservationIngest, sweepOffline } from './ingest.js';
export type { CommandLog } from './log/commandLog.js';
export { CorruptLogError, LocalLog, replay } from './log/localLog.js';
export { Command } from './state/commands.js';
export { type ApplyResult, DesiredState, type DesiredStateSnapshot } from './state/desiredState.js';
