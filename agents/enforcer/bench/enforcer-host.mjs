// The enforcement half of the agent, alone, for agents/enforcer/bench/enforcer.mjs: the same
// openBackends + EnforcementManager the agent runs (from agents/enforcer/dist), fed a policy and the
// bench's container over IPC instead of from the hub and containerd, and drained every second like
// the agent's security report loop. Started with --expose-gc so the bench can read an idle RSS.
//   node --expose-gc enforcer-host.mjs <bpf pin dir>
import { cgroupV2Root } from '@palisade/native';
import { EnforcementManager, openBackends } from '../dist/enforcement/manager.js';
// Everything else the agent process loads (hub connection, containerd client, package inventory),
// so the RSS measured here includes the agent's code even though this host does not connect.
import '../dist/index.js';

const pinDir = process.argv[2];
if (!pinDir || !process.send) {
  console.error('usage: node --expose-gc enforcer-host.mjs <bpf pin dir> (started by enforcer.mjs with IPC)');
  process.exit(2);
}

const problems = [];
const log = (level, message, fields) => {
  if (level === 'error' || level === 'warn')
    problems.push(`${level}: ${message} ${JSON.stringify(fields ?? {})}`);
};
const backends = openBackends({ pinDir, log });
const manager = new EnforcementManager('bench', backends, {
  cgroupRoot: cgroupV2Root(),
  procRoot: '/proc',
  log,
});
let securityEvents = 0;
// The last process and file events, so the bench can say why an exec failed.
const recent = [];
for (const b of [backends.bpf, backends.fanotify]) {
  b?.onEvents((events) => {
    for (const e of events) {
      if (e.kind === 'network') continue;
      recent.push(`${e.kind} ${e.action} by ${e.mechanism}: ${e.comm} ${e.path ?? ''}`);
      if (recent.length > 5) recent.shift();
    }
  });
}
const report = setInterval(() => {
  const { security } = manager.drain();
  securityEvents += security?.events.length ?? 0;
}, 1000);

// The enforcer samples its own event count: when a flood keeps its event loop busy, IPC answers come
// late, but each sample still pairs a count with the time it was taken.
const samples = [];
const sampler = setInterval(() => {
  samples.push({ atMs: Date.now(), events: manager.status().events });
  if (samples.length > 3000) samples.shift();
}, 100);

const counters = () => {
  const s = manager.status();
  const bpf = backends.bpf?.status();
  const fan = backends.fanotify?.status();
  return {
    events: s.events,
    drops: s.drops,
    kernelDrops: bpf?.kernelDrops ?? 0,
    userDrops: bpf?.userDrops ?? 0,
    fanotifyDrops: fan?.drops ?? 0,
    fanotifyFailOpen: fan?.failOpen ?? 0,
    fanotifyDenied: fan?.denied ?? 0,
    fanotifyDecisions: fan?.decisions ?? 0,
    fanotifyDecideNs: fan?.decideNs ?? 0,
    fanotifyErrors: fan?.errors ?? 0,
    recent: [...recent],
    generation: s.generation,
    lastError: s.lastError,
    workloads: s.workloads,
    securityEvents,
  };
};

process.on('message', (m) => {
  try {
    if (m.op === 'policy') manager.setPolicy(m.policy);
    else if (m.op === 'workloads') manager.setWorkloads(m.workloads);
    else if (m.op === 'samples') {
      process.send({ id: m.id, ok: true, samples: samples.filter((x) => x.atMs >= m.sinceMs) });
      return;
    } else if (m.op === 'gc') {
      // Twice: the first pass can leave objects only a second one frees (weak refs, finalizers).
      globalThis.gc?.();
      globalThis.gc?.();
    } else if (m.op === 'close') {
      clearInterval(report);
      clearInterval(sampler);
      manager.close();
      process.send({ id: m.id, ok: true }, () => process.exit(0));
      return;
    }
    process.send({ id: m.id, ok: true, counters: counters(), problems: problems.splice(0) });
  } catch (err) {
    process.send({ id: m.id, ok: false, error: err.message });
  }
});
// The bench went away (crash, kill): stop delivering events and leave; the bench uninstalls the pins.
process.on('disconnect', () => {
  manager.close();
  process.exit(0);
});
process.send({
  ready: true,
  backend: backends.backend,
  reason: backends.reason,
  problems: problems.splice(0),
});
