// A linearizability checker for operation histories, in the style of Wing & Gong (1993) with Lowe's
// memoization (2017) as used by Porcupine: depth-first search over the order in which pending
// operations take effect, caching (set of linearized ops, model state) pairs already explored. The
// history is split per key first (P-compositionality: a history is linearizable iff each key's
// sub-history is, for a model whose keys are independent).

/**
 * Operation is one client operation: its input, its observed output, and the (logical) times at
 * which it was invoked and returned. An operation whose outcome is unknown (timed out, client
 * crashed) has `ret = Infinity` and `output = undefined`: it may have taken effect at any point
 * after its invocation, or never.
 */
export interface Operation<I, O> {
  readonly id: number;
  readonly clientId: number;
  readonly input: I;
  readonly output: O | undefined;
  readonly call: number;
  readonly ret: number;
}

/** Model is a sequential specification. States must be immutable values. */
export interface Model<S, I, O> {
  init(): S;
  /** step applies `input` to `state`; ok=false if the observed `output` is impossible there. */
  step(state: S, input: I, output: O | undefined): { ok: boolean; state: S };
  /** key of the state for the memo table. */
  hash(state: S): string;
  /** partition splits a history into independent sub-histories (optional). */
  partition?(ops: readonly Operation<I, O>[]): Operation<I, O>[][];
  describe?(op: Operation<I, O>): string;
}

export type CheckOutcome = 'ok' | 'illegal' | 'unknown';

export interface CheckResult<I, O> {
  readonly outcome: CheckOutcome;
  /** For 'illegal': the partition that failed, the longest linearizable prefix found, and the ops left. */
  readonly partition?: readonly Operation<I, O>[];
  readonly longestPrefix?: readonly Operation<I, O>[];
  readonly stuck?: readonly Operation<I, O>[];
  /** Search steps taken (all partitions). */
  readonly steps: number;
}

interface Node {
  op: number; // index into ops
  isCall: boolean;
  time: number;
  match: Node | null; // call -> its return
  prev: Node | null;
  next: Node | null;
}

function buildList<I, O>(ops: readonly Operation<I, O>[]): Node {
  const events: Node[] = [];
  ops.forEach((o, i) => {
    const ret: Node = { op: i, isCall: false, time: o.ret, match: null, prev: null, next: null };
    const call: Node = { op: i, isCall: true, time: o.call, match: ret, prev: null, next: null };
    events.push(call, ret);
  });
  // By time; at equal times calls come first, which makes touching operations concurrent (the
  // permissive choice: equal timestamps carry no ordering information).
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1));
  const head: Node = { op: -1, isCall: false, time: -Infinity, match: null, prev: null, next: null };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  return head;
}

function lift(call: Node): void {
  (call.prev as Node).next = call.next;
  if (call.next) call.next.prev = call.prev;
  const ret = call.match as Node;
  (ret.prev as Node).next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

function unlift(call: Node): void {
  const ret = call.match as Node;
  (ret.prev as Node).next = ret;
  if (ret.next) ret.next.prev = ret;
  (call.prev as Node).next = call;
  if (call.next) call.next.prev = call;
}

/**
 * checkPartition decides one independent sub-history. `budget` bounds the search steps; past it the
 * answer is 'unknown' (never reported as a violation).
 */
function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  budget: number,
): { outcome: CheckOutcome; steps: number; longest: number[]; stuck: number[] } {
  const n = ops.length;
  const head = buildList(ops);
  const bits = new Uint32Array(Math.ceil(n / 32) || 1);
  const cache = new Set<string>();
  const stack: { call: Node; state: S }[] = [];
  let state = model.init();
  let entry: Node | null = head.next;
  let steps = 0;
  let longest: number[] = [];
  const key = (s: S) => {
    let k = '';
    for (let i = 0; i < bits.length; i++) k += `${(bits[i] as number).toString(36)}.`;
    return `${k}|${model.hash(s)}`;
  };
  while (head.next !== null) {
    if (++steps > budget) return { outcome: 'unknown', steps, longest, stuck: [] };
    if (entry === null) break; // cannot happen: a return event always ends the scan
    if (entry.isCall) {
      const op = ops[entry.op] as Operation<I, O>;
      const r = model.step(state, op.input, op.output);
      if (r.ok) {
        const w = entry.op >>> 5;
        const b = 1 << (entry.op & 31);
        bits[w] = (bits[w] as number) | b;
        const k = key(r.state);
        if (!cache.has(k)) {
          cache.add(k);
          stack.push({ call: entry, state });
          if (stack.length > longest.length) longest = stack.map((f) => f.call.op);
          state = r.state;
          lift(entry);
          entry = head.next;
          continue;
        }
        bits[w] = (bits[w] as number) & ~b;
      }
      entry = entry.next;
    } else {
      // A return event: the operation it belongs to must take effect before anything after it, but
      // no choice so far allows it. Backtrack.
      const top = stack.pop();
      if (!top) {
        const done = new Set(longest);
        const stuck: number[] = [];
        for (let i = 0; i < n; i++) if (!done.has(i)) stuck.push(i);
        return { outcome: 'illegal', steps, longest, stuck };
      }
      state = top.state;
      const w = top.call.op >>> 5;
      bits[w] = (bits[w] as number) & ~(1 << (top.call.op & 31));
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return { outcome: 'ok', steps, longest, stuck: [] };
}

/** checkOperations checks a whole history against `model` (per partition if the model splits). */
export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  opts: { budget?: number } = {},
): CheckResult<I, O> {
  const budget = opts.budget ?? 5_000_000;
  const parts = model.partition ? model.partition(history) : [history.slice()];
  let steps = 0;
  let unknown = false;
  for (const p of parts) {
    const r = checkPartition(model, p, budget);
    steps += r.steps;
    if (r.outcome === 'illegal') {
      return {
        outcome: 'illegal',
        partition: p,
        longestPrefix: r.longest.map((i) => p[i] as Operation<I, O>),
        stuck: r.stuck.map((i) => p[i] as Operation<I, O>),
        steps,
      };
    }
    if (r.outcome === 'unknown') unknown = true;
  }
  return { outcome: unknown ? 'unknown' : 'ok', steps };
}

// ------------------------------------------------------------------ key-value register model

export type KvInput =
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'get'; readonly key: string };
/** Output of a get is the value read (null: absent); of a put, 'ok'. */
export type KvOutput = string | null;

export type KvOperation = Operation<KvInput, KvOutput>;

/**
 * kvModel: a map of independent registers with put(key, value) and get(key). Partitioned per key,
 * so each sub-history is a single register whose state is its value (null when never written).
 */
export const kvModel: Model<string | null, KvInput, KvOutput> = {
  init: () => null,
  step(state, input, output) {
    if (input.kind === 'put') return { ok: true, state: input.value };
    // A get with unknown output constrains nothing.
    if (output === undefined) return { ok: true, state };
    return { ok: output === state, state };
  },
  hash: (s) => (s === null ? '\u0000' : s),
  partition(ops) {
    const by = new Map<string, KvOperation[]>();
    for (const o of ops) {
      const l = by.get(o.input.key);
      if (l) l.push(o);
      else by.set(o.input.key, [o]);
    }
    return [...by.keys()].sort().map((k) => by.get(k) as KvOperation[]);
  },
  describe(op) {
    const t = `[${op.call}, ${op.ret === Infinity ? '∞' : op.ret}]`;
    if (op.input.kind === 'put')
      return `c${op.clientId} put(${op.input.key}, ${op.input.value})${op.ret === Infinity ? ' → ?' : ''} ${t}`;
    return `c${op.clientId} get(${op.input.key}) → ${op.output === undefined ? '?' : JSON.stringify(op.output)} ${t}`;
  },
};

/** formatResult renders an illegal result for a failure message. */
export function formatResult<S, I, O>(model: Model<S, I, O>, r: CheckResult<I, O>, maxLines = 40): string {
  if (r.outcome !== 'illegal') return r.outcome;
  const d = (o: Operation<I, O>) => (model.describe ? model.describe(o) : JSON.stringify(o));
  const lines = [`not linearizable (${r.partition?.length ?? 0} ops in the failing partition)`];
  lines.push('longest linearizable prefix (tail):');
  for (const o of (r.longestPrefix ?? []).slice(-maxLines / 2)) lines.push(`  ${d(o)}`);
  lines.push('could not place (first ones, by call time):');
  const stuck = [...(r.stuck ?? [])].sort((a, b) => a.call - b.call).slice(0, maxLines / 2);
  for (const o of stuck) lines.push(`  ${d(o)}`);
  return lines.join('\n');
}
