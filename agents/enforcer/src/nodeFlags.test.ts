import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AGENT_NODE_FLAGS } from './nodeFlags.js';

describe('agent node flags', () => {
  it('are the ones on the shebang of the entry point (a directly executed agent runs with them)', () => {
    const first = readFileSync(new URL('./main.ts', import.meta.url), 'utf8').split('\n', 1)[0];
    expect(first).toBe(`#!/usr/bin/env -S node ${AGENT_NODE_FLAGS.join(' ')}`);
  });

  it('are accepted by this node, and lite mode is in effect', () => {
    const out = execFileSync(process.execPath, [...AGENT_NODE_FLAGS, '-p', 'typeof WebAssembly'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Lite mode implies jitless, which leaves WebAssembly out: the agent must not need it.
    expect(out.trim()).toBe('undefined');
  });
});
