'use client';

import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC } from '@/lib/trpc';
import { type SeverityCounts, severityLabel } from '@/lib/vulns';

export function SeverityBadge({ severity }: { severity: string }) {
  return (
    <span className={`sev sev-${severity}`} data-testid="severity" data-severity={severity}>
      {severityLabel(severity)}
    </span>
  );
}

type Pillable = Pick<SeverityCounts, 'critical' | 'high' | 'medium' | 'low'>;
const PILLS: { key: keyof Pillable; letter: string }[] = [
  { key: 'critical', letter: 'C' },
  { key: 'high', letter: 'H' },
  { key: 'medium', letter: 'M' },
  { key: 'low', letter: 'L' },
];

/** Critical/high/medium/low counts as coloured pills; zero counts stay grey. */
export function SeverityPills({ counts }: { counts: Pillable }) {
  return (
    <span className="pills" data-testid="severity-pills">
      {PILLS.map(({ key, letter }) => (
        <span
          key={key}
          className={`pill${counts[key] > 0 ? ` pill-${key}` : ''}`}
          title={`${counts[key]} ${key}`}
          data-testid={`count-${key}`}
          data-count={counts[key]}
        >
          <span className="pill-letter" aria-hidden="true">
            {letter}
          </span>
          {counts[key]}
        </span>
      ))}
    </span>
  );
}

/** The cluster filter: every cluster the caller can see, or all of them. */
export function ClusterFilter({
  value,
  onChange,
  testId = 'cluster-filter',
}: {
  value: string;
  onChange: (cluster: string) => void;
  testId?: string;
}) {
  const trpc = useTRPC();
  const clusters = useQuery({ ...trpc.clusters.list.queryOptions(), staleTime: 30_000 });
  const names = (clusters.data ?? []).map((c) => c.name);
  // A cluster named in the URL stays selectable while the list loads (or if it is not visible).
  if (value && !names.includes(value)) names.unshift(value);
  return (
    <select
      className="select-compact"
      aria-label="Cluster"
      value={value}
      onChange={(e) => onChange(e.target.value)}
      data-testid={testId}
    >
      <option value="">All clusters</option>
      {names.map((n) => (
        <option key={n} value={n}>
          {n}
        </option>
      ))}
    </select>
  );
}

/**
 * Offset-cursor paging for server-side lists: the cursors of the pages before this one (for Previous);
 * any change of `resetKey` (filters, sort) starts over from the first page.
 */
export function usePaging(resetKey: string) {
  const [state, setState] = useState<{ key: string; cursors: number[] }>({ key: resetKey, cursors: [] });
  const cursors = state.key === resetKey ? state.cursors : [];
  return {
    cursor: cursors.at(-1) ?? 0,
    prev: () => setState({ key: resetKey, cursors: cursors.slice(0, -1) }),
    next: (cursor: number) => setState({ key: resetKey, cursors: [...cursors, cursor] }),
  };
}

export function Pager({
  cursor,
  count,
  total,
  nextCursor,
  onPrev,
  onNext,
  testId,
}: {
  cursor: number;
  count: number;
  total: number;
  nextCursor: number | null;
  onPrev: () => void;
  onNext: (cursor: number) => void;
  testId: string;
}) {
  if (cursor === 0 && nextCursor === null) return null;
  return (
    <div className="pager">
      <span className="pager-range muted">
        {cursor + 1}–{cursor + count} of {total}
      </span>
      <button
        type="button"
        className="btn btn-small"
        disabled={cursor === 0}
        onClick={onPrev}
        data-testid={`${testId}-prev`}
      >
        Previous
      </button>
      <button
        type="button"
        className="btn btn-small"
        disabled={nextCursor === null}
        onClick={() => {
          if (nextCursor !== null) onNext(nextCursor);
        }}
        data-testid={`${testId}-next`}
      >
        Next
      </button>
    </div>
  );
}
