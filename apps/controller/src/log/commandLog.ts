import type { Command } from '../state/commands.js';
import type { ApplyResult, DesiredState } from '../state/desiredState.js';

/**
 * The boundary between features and replication. Features propose commands and read `state`;
 * an implementation decides how a command becomes durable and committed before it is applied.
 * `LocalLog` (one controller, a write-ahead file) implements it today; the Raft-replicated log
 * implements the same interface, so features do not change when replication arrives.
 */
export interface CommandLog {
  /** Resolves once the command is durable and applied, with the state machine's result. */
  propose(command: Command): Promise<ApplyResult>;
  /** The applied desired state; read-only for callers. */
  readonly state: DesiredState;
  status(): {
    role: 'leader' | 'follower' | 'candidate' | 'standalone';
    term: number;
    appliedIndex: number;
    /** Replicated logs only. */
    leaderId?: number | undefined;
    leaderReady?: boolean;
    followers?: Record<string, { match: number; lag: number }>;
    /** Replicated logs only: size of the latest state-machine snapshot. */
    snapshotBytes?: number;
  };
  close(): Promise<void>;
}
