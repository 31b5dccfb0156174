import { describe, expect, it } from 'vitest';
import { replayCommand, runSimulation, type SimBugs, SimFailure, type SimReport } from './simulation.js';

// Deterministic simulation. One seed drives everything (network, crashes, disk faults, clients,
// membership); see simulation.ts. RAFT_SIM_SEEDS sets how many seeds run (RAFT_SIM_BASE the first);
// RAFT_SIM_SEED replays one seed with tracing on.

const single = process.env.RAFT_SIM_SEED;
const count = Number(process.env.RAFT_SIM_SEEDS ?? 200);
const base = Number(process.env.RAFT_SIM_BASE ?? 1);

describe('simulation', () => {
  if (single !== undefined) {
    it(`replays seed ${single}`, () => {
      const r = runSimulation({ seed: Number(single), trace: true });
      console.log(JSON.stringify(r, null, 1));
    }, 600_000);
    return;
  }

  it(`holds safety, linearizability and liveness for ${count} seeds`, () => {
    const failures: string[] = [];
    const totals = {
      ops: 0,
      elections: 0,
      crashes: 0,
      snapshots: 0,
      confChanges: 0,
      garbage: 0,
      unknownNode: 0,
      staleConfig: 0,
      malformed: 0,
    };
    const t0 = performance.now();
    for (let seed = base; seed < base + count; seed++) {
      let r: SimReport;
      try {
        r = runSimulation({ seed });
      } catch (e) {
        if (!(e instanceof SimFailure)) {
          failures.push(`seed ${seed}: unexpected ${(e as Error).stack}\nreplay: ${replayCommand(seed)}`);
        } else failures.push(e.message);
        if (failures.length >= 5) break;
        continue;
      }
      totals.ops += r.ops.total;
      totals.elections += r.elections;
      totals.crashes += r.crashes;
      totals.snapshots += r.snapshotsInstalled;
      totals.confChanges += r.confChanges;
      totals.garbage += r.garbageInjected;
      totals.malformed += r.dropped.malformed;
      totals.unknownNode += r.dropped.unknownNode;
      totals.staleConfig += r.dropped.staleConfig;
    }
    const secs = (performance.now() - t0) / 1000;
    console.log(
      `raft simulation: ${count} seeds in ${secs.toFixed(1)} s (${(count / secs).toFixed(1)} seeds/s)`,
      totals,
    );
    expect(failures, failures.join('\n\n')).toEqual([]);
  }, 600_000);

  // The checks must bite: the same machinery with a deliberate bug has to report a violation.
  it('catches a state machine served without ReadIndex (stale reads)', () => {
    expect(firstFailure({ staleReads: true }, 1, 10)).toMatch(/linearizability/);
  });

  it('catches messages sent before their Ready was persisted', () => {
    expect(firstFailure({ sendBeforePersist: true }, 1, 40, 600)).toMatch(/seed \d+ failed/);
  }, 60_000);
});

function firstFailure(bugs: SimBugs, from: number, to: number, chaosTicks?: number): string {
  for (let seed = from; seed <= to; seed++) {
    try {
      runSimulation({ seed, bugs, chaosTicks });
    } catch (e) {
      if (e instanceof SimFailure) return e.message;
      throw e;
    }
  }
  return 'no failure found';
}
