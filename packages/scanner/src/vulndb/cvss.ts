import type { Cvss, CvssVersion, Severity } from './model.js';

/**
 * CVSS base scores computed from vector strings, written from the FIRST specifications
 * (CVSS v2 guide §3.2.1, CVSS v3.0 and v3.1 specification §7 and Appendix A).
 * Only base metrics are scored; temporal/environmental metrics are validated and ignored.
 * CVSS v4.0 vectors are validated but not scored (v4 scoring needs the spec's macro-vector
 * lookup table); they get score null and severity 'unknown'.
 */

export class CvssError extends Error {
  override name = 'CvssError';
}

type Weights = Record<string, Record<string, number>>;

const V3_WEIGHTS: Weights = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  // PR depends on scope; resolved in scoreV3.
  PR: { N: 0.85, L: 0.62, H: 0.27 },
  UI: { N: 0.85, R: 0.62 },
  S: { U: 0, C: 1 },
  C: { H: 0.56, L: 0.22, N: 0 },
  I: { H: 0.56, L: 0.22, N: 0 },
  A: { H: 0.56, L: 0.22, N: 0 },
};
const V3_PR_CHANGED: Record<string, number> = { N: 0.85, L: 0.68, H: 0.5 };
const V3_BASE = ['AV', 'AC', 'PR', 'UI', 'S', 'C', 'I', 'A'];
const V3_OTHER: Record<string, string[]> = {
  E: ['X', 'U', 'P', 'F', 'H'],
  RL: ['X', 'O', 'T', 'W', 'U'],
  RC: ['X', 'U', 'R', 'C'],
  CR: ['X', 'L', 'M', 'H'],
  IR: ['X', 'L', 'M', 'H'],
  AR: ['X', 'L', 'M', 'H'],
  MAV: ['X', 'N', 'A', 'L', 'P'],
  MAC: ['X', 'L', 'H'],
  MPR: ['X', 'N', 'L', 'H'],
  MUI: ['X', 'N', 'R'],
  MS: ['X', 'U', 'C'],
  MC: ['X', 'N', 'L', 'H'],
  MI: ['X', 'N', 'L', 'H'],
  MA: ['X', 'N', 'L', 'H'],
};

const V2_WEIGHTS: Weights = {
  AV: { L: 0.395, A: 0.646, N: 1.0 },
  AC: { H: 0.35, M: 0.61, L: 0.71 },
  Au: { M: 0.45, S: 0.56, N: 0.704 },
  C: { N: 0, P: 0.275, C: 0.66 },
  I: { N: 0, P: 0.275, C: 0.66 },
  A: { N: 0, P: 0.275, C: 0.66 },
};
const V2_BASE = ['AV', 'AC', 'Au', 'C', 'I', 'A'];
const V2_OTHER: Record<string, string[]> = {
  E: ['U', 'POC', 'F', 'H', 'ND'],
  RL: ['OF', 'TF', 'W', 'U', 'ND'],
  RC: ['UC', 'UR', 'C', 'ND'],
  CDP: ['N', 'L', 'LM', 'MH', 'H', 'ND'],
  TD: ['N', 'L', 'M', 'H', 'ND'],
  CR: ['L', 'M', 'H', 'ND'],
  IR: ['L', 'M', 'H', 'ND'],
  AR: ['L', 'M', 'H', 'ND'],
};

const V4_VALUES: Record<string, string[]> = {
  AV: ['N', 'A', 'L', 'P'],
  AC: ['L', 'H'],
  AT: ['N', 'P'],
  PR: ['N', 'L', 'H'],
  UI: ['N', 'P', 'A'],
  VC: ['H', 'L', 'N'],
  VI: ['H', 'L', 'N'],
  VA: ['H', 'L', 'N'],
  SC: ['H', 'L', 'N'],
  SI: ['H', 'L', 'N'],
  SA: ['H', 'L', 'N'],
};
const V4_OPTIONAL = new Set([
  'E',
  'CR',
  'IR',
  'AR',
  'MAV',
  'MAC',
  'MAT',
  'MPR',
  'MUI',
  'MVC',
  'MVI',
  'MVA',
  'MSC',
  'MSI',
  'MSA',
  'S',
  'AU',
  'R',
  'V',
  'RE',
  'U',
]);

function parseMetrics(parts: string[], vector: string): Map<string, string> {
  const metrics = new Map<string, string>();
  for (const part of parts) {
    const i = part.indexOf(':');
    if (i <= 0 || i === part.length - 1) throw new CvssError(`malformed metric "${part}" in ${vector}`);
    const key = part.slice(0, i);
    if (metrics.has(key)) throw new CvssError(`metric ${key} given twice in ${vector}`);
    metrics.set(key, part.slice(i + 1));
  }
  return metrics;
}

/** CVSS v3.1 Roundup (spec Appendix A): integer arithmetic avoids floating-point artefacts. */
export function roundUp(value: number): number {
  const intInput = Math.round(value * 100000);
  if (intInput % 10000 === 0) return intInput / 100000;
  return (Math.floor(intInput / 10000) + 1) / 10;
}

function scoreV3(vector: string, body: string): number {
  const metrics = parseMetrics(body.split('/'), vector);
  for (const key of V3_BASE)
    if (!metrics.has(key)) throw new CvssError(`base metric ${key} missing in ${vector}`);
  for (const [key, value] of metrics) {
    const allowed = V3_WEIGHTS[key] ? Object.keys(V3_WEIGHTS[key]) : V3_OTHER[key];
    if (!allowed) throw new CvssError(`unknown metric ${key} in ${vector}`);
    if (!allowed.includes(value)) throw new CvssError(`bad value ${key}:${value} in ${vector}`);
  }
  const w = (k: string): number => V3_WEIGHTS[k]?.[metrics.get(k) as string] as number;
  const changed = metrics.get('S') === 'C';
  const pr = changed ? (V3_PR_CHANGED[metrics.get('PR') as string] as number) : w('PR');
  const iss = 1 - (1 - w('C')) * (1 - w('I')) * (1 - w('A'));
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 : 6.42 * iss;
  const exploitability = 8.22 * w('AV') * w('AC') * pr * w('UI');
  if (impact <= 0) return 0;
  return changed
    ? roundUp(Math.min(1.08 * (impact + exploitability), 10))
    : roundUp(Math.min(impact + exploitability, 10));
}

function scoreV2(vector: string, body: string): number {
  const metrics = parseMetrics(body.split('/'), vector);
  for (const key of V2_BASE)
    if (!metrics.has(key)) throw new CvssError(`base metric ${key} missing in ${vector}`);
  for (const [key, value] of metrics) {
    const allowed = V2_WEIGHTS[key] ? Object.keys(V2_WEIGHTS[key]) : V2_OTHER[key];
    if (!allowed) throw new CvssError(`unknown metric ${key} in ${vector}`);
    if (!allowed.includes(value)) throw new CvssError(`bad value ${key}:${value} in ${vector}`);
  }
  const w = (k: string): number => V2_WEIGHTS[k]?.[metrics.get(k) as string] as number;
  const impact = 10.41 * (1 - (1 - w('C')) * (1 - w('I')) * (1 - w('A')));
  const exploitability = 20 * w('AV') * w('AC') * w('Au');
  const f = impact === 0 ? 0 : 1.176;
  const base = (0.6 * impact + 0.4 * exploitability - 1.5) * f;
  // "round_to_1_decimal"; the epsilon keeps x.x5 products that float arithmetic lands just below on the right side.
  return Math.round(base * 10 + 1e-9) / 10;
}

function validateV4(vector: string, body: string): void {
  const metrics = parseMetrics(body.split('/'), vector);
  for (const [key, values] of Object.entries(V4_VALUES)) {
    const v = metrics.get(key);
    if (v === undefined) throw new CvssError(`base metric ${key} missing in ${vector}`);
    if (!values.includes(v)) throw new CvssError(`bad value ${key}:${v} in ${vector}`);
  }
  for (const key of metrics.keys()) {
    if (!(key in V4_VALUES) && !V4_OPTIONAL.has(key))
      throw new CvssError(`unknown metric ${key} in ${vector}`);
  }
}

/** Parses a CVSS vector (v2 with or without parentheses / "CVSS:2.0/" prefix, v3.0, v3.1, v4.0) and scores it. */
export function parseCvss(raw: string): Cvss {
  const vector = raw.trim();
  let m = /^CVSS:(3\.[01])\/(.+)$/.exec(vector);
  if (m) {
    const version = m[1] as CvssVersion;
    return { vector, version, score: scoreV3(vector, m[2] as string) };
  }
  m = /^CVSS:4\.0\/(.+)$/.exec(vector);
  if (m) {
    validateV4(vector, m[1] as string);
    return { vector, version: '4.0', score: null };
  }
  m = /^(?:CVSS:2\.0\/)?\(?(AV:[^)]+)\)?$/.exec(vector);
  if (m) return { vector, version: '2.0', score: scoreV2(vector, m[1] as string) };
  throw new CvssError(`not a CVSS vector: ${JSON.stringify(vector.slice(0, 200))}`);
}

/** Qualitative rating: v3/v4 bands (None/Low/Medium/High/Critical); v2 has no Critical (NVD v2 bands). */
export function severityFromScore(score: number | null, version: CvssVersion): Severity {
  if (score === null || Number.isNaN(score)) return 'unknown';
  if (version === '2.0') {
    if (score >= 7) return 'high';
    if (score >= 4) return 'medium';
    return 'low';
  }
  if (score === 0) return 'negligible';
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'medium';
  return 'low';
}

/** Parses a vector; never throws — an invalid vector yields undefined. */
export function tryParseCvss(raw: string): Cvss | undefined {
  try {
    return parseCvss(raw);
  } catch {
    return undefined;
  }
}

/** Picks the best of several vectors (newest scored version first: 3.1 > 3.0 > 2.0 > 4.0-unscored). */
export function pickCvss(list: Cvss[]): Cvss | undefined {
  const rank = (c: Cvss): number =>
    c.score === null ? 0 : c.version === '3.1' ? 4 : c.version === '3.0' ? 3 : c.version === '4.0' ? 2 : 1;
  let best: Cvss | undefined;
  for (const c of list) if (!best || rank(c) > rank(best)) best = c;
  return best;
}
