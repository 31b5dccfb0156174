// Shared by bench:enforcer (palbench in a container, enforcer.mjs) and bench:enforcer-lsm (palbench in
// the QEMU guest, native/vm/guest-bench.mjs, which gets this file in its share).

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const round = (x, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
export const us = (ns) => round(ns / 1000, 1);
export const pctOver = (ratio) => round((ratio - 1) * 100, 1);

// The client side of `palbench serve` (palbench.c): commands go to its stdin one per line, each answer
// is one JSON line on its stdout.

/** Wraps a spawned `palbench serve` (stdio pipes) into `command(...args)` → its parsed answer. */
export function palbenchServe(child) {
  let out = '';
  let stderr = '';
  const waiting = [];
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  child.stdout.on('data', (d) => {
    out += d;
    for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      waiting.shift()?.res(line);
    }
  });
  child.on('exit', (code, sig) => {
    for (const w of waiting.splice(0))
      w.rej(new Error(`palbench serve exited (${code ?? sig}): ${stderr.trim()}`));
  });
  return {
    stderr: () => stderr,
    async command(...args) {
      const line = await new Promise((res, rej) => {
        waiting.push({ res, rej });
        child.stdin.write(`${args.join(' ')}\n`);
      });
      const r = JSON.parse(line);
      if (r.error) throw new Error(`palbench ${args.join(' ')}: ${r.error}`);
      return r;
    },
  };
}
