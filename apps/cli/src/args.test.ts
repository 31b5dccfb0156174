import { describe, expect, it } from 'vitest';
import { parseClusterName, parseDuration, parseLabels, table, UsageError } from './args.js';

describe('CLI argument parsing', () => {
  it('parses durations', () => {
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('30m')).toBe(1800);
    expect(parseDuration('2h')).toBe(7200);
    expect(parseDuration('7d')).toBe(604800);
    expect(parseDuration('120')).toBe(120);
    expect(() => parseDuration('1w')).toThrow(UsageError);
    expect(() => parseDuration('-5m')).toThrow(UsageError);
  });

  it('validates cluster names like the API does', () => {
    expect(parseClusterName('edge-1')).toBe('edge-1');
    expect(() => parseClusterName('Edge')).toThrow(/lowercase/);
    expect(() => parseClusterName(undefined)).toThrow(/required/);
  });

  it('parses labels and rejects malformed pairs', () => {
    expect(parseLabels(['env=prod', 'region=eu-west'])).toEqual({ env: 'prod', region: 'eu-west' });
    expect(() => parseLabels(['novalue'])).toThrow(/key=value/);
    expect(() => parseLabels(['bad key=x'])).toThrow(UsageError);
  });

  it('aligns table columns', () => {
    expect(table(['A', 'BB'], [['xyz', '1']])).toBe('A    BB\nxyz  1');
  });
});
