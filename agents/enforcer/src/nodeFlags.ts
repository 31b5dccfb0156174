/**
 * The node flags the agent runs with (the shebang of main.ts carries them; launchers that start
 * `node dist/main.js` themselves pass these). The agent's JavaScript is not on the enforcement path
 * (the kernel and the addon's threads decide), it folds and forwards events, so it trades CPU for
 * memory: `--lite-mode` (no optimising compiler, no JIT code; ~20 MB less resident memory, ~1.5×
 * the CPU per event) and a 1 MiB young generation (less heap held between scavenges). Measured by
 * `npm run bench:enforcer`.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ['--lite-mode', '--max-semi-space-size=1'];
